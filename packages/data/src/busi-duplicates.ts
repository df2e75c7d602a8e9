import { pluralize } from '@busi/core';
import { decodeImage } from './io/png';
import type { BusiEntry, BusiIndex } from './busi';
import { decodeBusiEntry } from './busi';
import { areaResize, fingerprint, sampleThumb, THUMB_SIZE, type Alignment, type Fingerprint } from './fingerprint';
import { detectNearDuplicates, NEAR_DUPLICATE_DEFAULTS, type NearDuplicateOptions } from './near-duplicates';

/** Two members of a group and how well they (and their masks) agree. */
export interface NearDuplicateLink {
  /** Entry ids. */
  a: string;
  /** The other entry's id (the one aligned onto `a`). */
  b: string;
  /** Aligned detail correlation of the images. */
  similarity: number;
  /** Hash distance in bits. */
  hashDistance: number;
  /** Dice of the two masks after aligning b onto a (1 when both are empty, 0 when only one is). */
  maskDice: number;
}

/** A set of images that are copies of one another (possibly resized, re-encoded, cropped or marked). */
export interface NearDuplicateGroup {
  /** Group key used by grouped splits: the first member's id. */
  key: string;
  /** Member ids, in index order. */
  ids: string[];
  /** Their class names (one per id). */
  classes: string[];
  /** Whether the copies carry different class labels (the same picture, two diagnoses). */
  crossClass: boolean;
  /** The verified pairs inside the group. */
  links: NearDuplicateLink[];
}

/** What {@link findNearDuplicates} found in a BUSI folder. */
export interface NearDuplicateReport {
  /** Number of images scanned. */
  images: number;
  /** The group key of every entry, parallel to the index's entries: its group's key, or its own id. Usable as split groups. */
  groupOf: string[];
  /** Groups of two or more images, by first member. */
  groups: NearDuplicateGroup[];
  /** Images that are not the first of their group (what removing copies would drop). */
  redundantImages: number;
  /** Group keys of the cross-class groups. */
  crossClass: string[];
  /** Links whose masks disagree (Dice below `maskDiceBelow`). */
  maskDisagreements: NearDuplicateLink[];
  /** The thresholds used. */
  settings: Required<NearDuplicateOptions> & {
    /** Mask Dice below which a link counted as disagreeing. */
    maskDiceBelow: number;
  };
}

/** Options of {@link findNearDuplicates}. */
export interface FindNearDuplicatesOptions extends NearDuplicateOptions {
  /** A link's masks disagree below this Dice. Default 0.8. */
  maskDiceBelow?: number;
  /** Progress of the image scan. */
  onProgress?: (done: number, total: number) => void;
}

/** A 64² float mask thumbnail (area averaged, values in [0, 1]) of an entry's merged masks. */
async function maskThumb(entry: BusiEntry): Promise<Float32Array> {
  const s = await decodeBusiEntry(entry, { channels: 1 });
  return areaResize(s.mask, s.image.height, s.image.width, THUMB_SIZE, THUMB_SIZE);
}

/** Dice of mask thumbnails `b` against `a` with `b` placed inside `a` by `al` (foreground: above ½). */
export function alignedMaskDice(a: Float32Array, b: Float32Array, al: Alignment): number {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let y = 0; y < THUMB_SIZE; y++) {
    const ay = al.offsetY + al.scaleY * ((y + 0.5) / THUMB_SIZE);
    for (let x = 0; x < THUMB_SIZE; x++) {
      const ax = al.offsetX + al.scaleX * ((x + 0.5) / THUMB_SIZE);
      const inA = ay >= 0 && ay <= 1 && ax >= 0 && ax <= 1 && sampleThumb(a, ay, ax) > 0.5;
      const inB = b[y * THUMB_SIZE + x] > 0.5;
      if (inA) na++;
      if (inB) nb++;
      if (inA && inB) inter++;
    }
  }
  return na + nb === 0 ? 1 : (2 * inter) / (na + nb);
}

/** Fingerprints of every entry's image (decoded once each). */
export async function fingerprintEntries(entries: readonly BusiEntry[], onProgress?: (done: number, total: number) => void): Promise<Fingerprint[]> {
  const out: Fingerprint[] = [];
  for (const [i, e] of entries.entries()) {
    out.push(fingerprint(await decodeImage(e.imagePath)));
    onProgress?.(i + 1, entries.length);
  }
  return out;
}

/**
 * Finds near-duplicate images in a BUSI folder (resized, re-encoded, slightly cropped or marked
 * copies, and pixel-identical ones): a perceptual hash proposes candidate pairs, an aligned
 * correlation of detail thumbnails verifies them, and groups are the connected components. Each
 * link also compares the two mask files after alignment, and the report lists cross-class groups
 * and disagreeing masks. Decodes every image once and the masks of grouped images.
 * @example
 * ```ts
 * import { findNearDuplicates, formatNearDuplicateReport, readBusiFolder } from '@busi/node';
 * const report = await findNearDuplicates(readBusiFolder('data/Dataset_BUSI_with_GT'));
 * console.log(formatNearDuplicateReport(report)); // report.groupOf: split groups
 * ```
 */
export async function findNearDuplicates(index: BusiIndex, options: FindNearDuplicatesOptions = {}): Promise<NearDuplicateReport> {
  const entries = index.entries;
  const fps = await fingerprintEntries(entries, options.onProgress);
  const settings = { ...NEAR_DUPLICATE_DEFAULTS, ...stripUndefined(options), maskDiceBelow: options.maskDiceBelow ?? 0.8 };
  const found = detectNearDuplicates(fps, settings);
  const masks = new Map<number, Float32Array>();
  const maskOf = async (i: number) => {
    let m = masks.get(i);
    if (!m) masks.set(i, (m = await maskThumb(entries[i])));
    return m;
  };
  const groupOf = entries.map((e) => e.id);
  const groups: NearDuplicateGroup[] = [];
  const maskDisagreements: NearDuplicateLink[] = [];
  for (const members of found.groups) {
    const key = entries[members[0]].id;
    const inGroup = new Set(members);
    const links: NearDuplicateLink[] = [];
    for (const p of found.pairs) {
      if (!inGroup.has(p.a)) continue;
      const link = {
        a: entries[p.a].id,
        b: entries[p.b].id,
        similarity: p.similarity,
        hashDistance: p.hashDistance,
        maskDice: alignedMaskDice(await maskOf(p.a), await maskOf(p.b), p.alignment),
      };
      links.push(link);
      if (link.maskDice < settings.maskDiceBelow) maskDisagreements.push(link);
    }
    for (const i of members) groupOf[i] = key;
    const classes = members.map((i) => entries[i].className);
    groups.push({ key, ids: members.map((i) => entries[i].id), classes, crossClass: new Set(classes).size > 1, links });
  }
  return {
    images: entries.length,
    groupOf,
    groups,
    redundantImages: groups.reduce((n, g) => n + g.ids.length - 1, 0),
    crossClass: groups.filter((g) => g.crossClass).map((g) => g.key),
    maskDisagreements,
    settings,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'onProgress' && k !== 'maskDiceBelow')) as Partial<T>;
}

/** Group sizes → number of groups, e.g. `{ 2: 120, 3: 20 }`. */
export function groupSizeCounts(groups: readonly { ids: readonly string[] }[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const g of groups) out[g.ids.length] = (out[g.ids.length] ?? 0) + 1;
  return out;
}

/** A human-readable near-duplicate report: counts, cross-class groups, disagreeing masks, then every group. */
export function formatNearDuplicateReport(r: NearDuplicateReport): string {
  const sizes = Object.entries(groupSizeCounts(r.groups))
    .map(([size, count]) => `${count} of ${size}`)
    .join(', ');
  const inGroups = r.groups.reduce((n, g) => n + g.ids.length, 0);
  const lines = [
    `${pluralize(r.images, 'image')}: ${pluralize(r.groups.length, 'group')} of near-duplicates (${sizes || 'none'}), ${pluralize(inGroups, 'image')} in groups, ${pluralize(r.redundantImages, 'redundant copy', 'redundant copies')}`,
    `${pluralize(r.crossClass.length, 'cross-class group')} (same image, different label); ${pluralize(r.maskDisagreements.length, 'linked pair')} whose masks disagree (Dice < ${r.settings.maskDiceBelow})`,
  ];
  const byKey = new Map(r.groups.map((g) => [g.key, g]));
  if (r.crossClass.length) {
    lines.push('cross-class groups:');
    for (const k of r.crossClass) lines.push(`  ! ${byKey.get(k)!.ids.map((id, i) => `${id} [${byKey.get(k)!.classes[i]}]`).join(', ')}`);
  }
  if (r.maskDisagreements.length) {
    lines.push('masks that disagree:');
    for (const l of r.maskDisagreements) lines.push(`  ~ ${l.a} / ${l.b}: mask Dice ${l.maskDice.toFixed(2)} (image similarity ${l.similarity.toFixed(2)})`);
  }
  lines.push('groups:');
  for (const g of r.groups) lines.push(`  ${g.crossClass ? '!' : ' '} ${g.ids.join(', ')}`);
  return lines.join('\n');
}
