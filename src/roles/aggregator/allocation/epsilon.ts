/** Powers below this (W) are treated as zero; absorbs floating-point residue. */
export const EPSILON_W = 1e-6;
