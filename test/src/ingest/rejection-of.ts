import { expect } from 'vitest';
import { WebhookRejectedError } from '../../../src/ingest/webhook-rejected-error.js';

/** The WebhookRejectedError `fn` throws; fails the test when it throws something else or nothing. */
export function rejectionOf(fn: () => unknown): WebhookRejectedError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookRejectedError);
    return err as WebhookRejectedError;
  }
  throw new Error('expected a WebhookRejectedError, nothing was thrown');
}
