import type { Command } from '../cli/args';
import { demoCommand } from './demo';
import { trainCommand } from './train';
import { evaluateCommand } from './evaluate';
import { predictCommand } from './predict';
import { gridLambdaCommand } from './grid-lambda';
import { buildNativeCommand } from './build-native';
import { exportCommand } from './export';
import { cvCommand } from './cv';
import { duplicatesCommand } from './duplicates';
import { sweepCommand } from './sweep';
import { workerCommand } from './worker';

/** Every `busi` subcommand, in --help order. A new command is one module here plus one line below. */
export const commands: readonly Command[] = [demoCommand, trainCommand, cvCommand, evaluateCommand, duplicatesCommand, predictCommand, exportCommand, gridLambdaCommand, sweepCommand, workerCommand, buildNativeCommand];
