// Counts in messages agree with their noun ("1 epoch", "3 epochs"): the one place that decides the form, for every package that prints counts.

/** `noun` when `count` is 1, else `plural` (default `noun` + 's'; give irregular ones: 'batch', 'batches'). */
export function nounForm(count: number, noun: string, plural = `${noun}s`): string {
  return count === 1 ? noun : plural;
}

/** `count` and its noun in agreement: `pluralize(1, 'epoch')` is '1 epoch', `pluralize(0, 'epoch')` '0 epochs'. */
export function pluralize(count: number, noun: string, plural?: string): string {
  return `${count} ${nounForm(count, noun, plural)}`;
}
