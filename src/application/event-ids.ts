import { createHash } from 'node:crypto';

/**
 * Event ids derived from the command id, so that a command retried after a crash (say between
 * the append and the HTTP response) produces the same ids and the store answers with the original
 * result instead of writing twice.
 */
export function deterministicEventId(commandId: string, index: number): string {
  const hex = createHash('sha256').update(`${commandId}\u0000${index}`).digest('hex');
  // Shaped as an RFC 4122 version-5-like UUID: version nibble 5, variant bits 10.
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
