import type { EncoderConfig } from '../encoder/spec';

/**
 * Where one encoder's vectors go, as it travels in workflow payloads: the encoder's configuration
 * (each worker derives its own thread settings from it), the id and vector size fixed once per
 * run, and the store URI.
 */
export interface VectorDestination {
  encoder: EncoderConfig;
  encoderId: string;
  dims: number;
  store: string;
}
