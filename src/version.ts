/** The library's version (package.json's, checked by a test): part of every stored autotuning key. */
export const libraryVersion = '0.1.0';
