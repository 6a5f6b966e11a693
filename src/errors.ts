/**
 * Every failure the library reports is a `BatchNormError` with a machine-readable `code`, so callers
 * can branch on the kind of problem without parsing messages.
 */
export type BatchNormErrorCode =
  | 'invalid-shape'
  | 'too-large'
  | 'invalid-layout'
  | 'length-mismatch'
  | 'channel-mismatch'
  | 'too-few-values'
  | 'invalid-eps'
  | 'invalid-momentum'
  | 'invalid-option'
  | 'missing-running-stats'
  | 'invalid-buffer'
  | 'webgpu-unavailable'
  | 'unsupported-device'
  | 'unsupported-dtype'
  | 'device-lost'
  | 'gpu-error'
  | 'disposed'
  | 'verification-failed'
  | 'non-finite';

export class BatchNormError extends Error {
  readonly code: BatchNormErrorCode;

  constructor(code: BatchNormErrorCode, message: string) {
    super(message);
    this.name = 'BatchNormError';
    this.code = code;
  }
}
