import * as fs from 'node:fs';
import * as path from 'node:path';
import { MultiTaskModel, createModelCard } from '@busi/core';
import { exportOnnx, ONNX_OPSET } from '@busi/onnx';
import { initBackend, type BackendChoice } from '@busi/kernels';
import { UsageError, type CliContext, type Command, type OptionValues } from '../cli/args';
import { fileSystem } from '@busi/data';
import { modelSettings } from '../runs/model-settings';
import { writeFileAtomic } from '../runs/run-folder';
import { resolveModel } from '../runs/resolve-model';
import { backendOption } from '../cli/backend-option';

/** `busi export`: a trained model as an ONNX file (`exportOnnx` of @busi/onnx, with the model card). */
export const exportCommand: Command = {
  name: 'export',
  summary: 'Export a trained model for other runtimes (ONNX, for ONNX Runtime in Python, C++, mobile, the browser)',
  description: [
    'MODEL is a run folder (its best-model/) or a model folder. Writes an ONNX model (opset 17) with the',
    'input `image` (float32, pixels prepared as the model card says), the outputs `mask_logits` (apply a',
    'sigmoid) and `class_logits` (apply a softmax), a dynamic batch dimension, and the model card in the',
    'metadata (busi.model_card). Inference only: dropout and batch statistics are not exported.',
    'An existing --out file is kept unless --force is given.',
  ].join('\n'),
  options: {
    model: { type: 'string', short: 'm', valueName: 'DIR', description: 'Run folder or model folder (required)' },
    format: { type: 'string', default: 'onnx', choices: ['onnx'], description: 'Export format' },
    out: { type: 'string', short: 'o', valueName: 'FILE', description: 'Where to write the model (required, e.g. model.onnx)' },
    layout: { type: 'string', default: 'NCHW', choices: ['NCHW', 'NHWC'], description: 'Layout of image and mask_logits' },
    precision: { type: 'string', default: 'float32', choices: ['float32', 'float16'], description: 'Weights and computation (input and outputs stay float32)' },
    force: { type: 'boolean', description: 'Replace an existing --out file' },
    backend: backendOption('tfjs backend used to read the weights'),
  },
  run: runExport,
};

async function runExport(v: OptionValues, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length) throw new UsageError(`busi export: unexpected argument '${positionals[0]}'; give the model with --model and the file with --out`);
  if (!v.model) throw new UsageError('busi export: --model <run folder or model folder> is required');
  if (!v.out) throw new UsageError('busi export: --out <file> is required (e.g. --out model.onnx)');
  const out = path.resolve(ctx.cwd, v.out as string);
  if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new UsageError(`busi export: --out '${out}' is a folder; give a file name such as ${path.join(out, 'model.onnx')}`);
  if (fs.existsSync(out) && !v.force) throw new UsageError(`busi export: --out '${out}' exists; pass --force to replace it`);
  const resolved = resolveModel(v.model as string, ctx.cwd);
  await initBackend({ backend: v.backend as BackendChoice, log: false });
  const model = await MultiTaskModel.load(fileSystem(resolved.modelDir));
  try {
    const warn = (s: string) => ctx.stderr.write(`busi export: warning: ${s}\n`);
    const settings = modelSettings(model, resolved.config, {}, warn, `model '${resolved.modelDir}'`);
    const card = model.card ?? createModelCard({
      preprocessing: settings.preprocessing,
      classNames: settings.classNames,
      maskThreshold: settings.maskThreshold,
      description: settings.source === 'run' ? "from the run's config.json (the model has no card)" : 'assumed: the model was saved without a model card',
    });
    const result = exportOnnx(model, { card, layout: v.layout as 'NCHW' | 'NHWC', precision: v.precision as 'float32' | 'float16' });
    writeFileAtomic(out, result.bytes);
    const mib = (result.bytes.length / 2 ** 20).toFixed(1);
    ctx.stdout.write(
      `wrote ${out} (${mib} MiB, ${result.nodes} nodes, opset ${ONNX_OPSET}, ${v.precision}): ` +
        `image [${result.inputShape.join(', ')}] -> mask_logits, class_logits; preprocessing ${card.preprocessing.size.join('x')}, ` +
        `mean [${card.preprocessing.normalization.mean.join(', ')}], std [${card.preprocessing.normalization.std.join(', ')}]\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
