/** A set of words from a space-separated list, for the detectors' keyword tables. */
export const words = (list: string): Set<string> => new Set(list.split(" "));
