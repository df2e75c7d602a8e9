/**
 * BUSI's class names, in label-index order (the dataset's folder order): the classification
 * head's output k is `BUSI_CLASSES[k]` for the BUSI loaders, the synthetic data and the reports.
 */
export const BUSI_CLASSES = ['benign', 'malignant', 'normal'] as const;
/** One of {@link BUSI_CLASSES}. */
export type BusiClass = (typeof BUSI_CLASSES)[number];
