// Event builders shared by the unit tests.
import type { TelltaleEvent } from "../api/types";

export function ev(seq: number, entity: string, status: string, extra: Partial<TelltaleEvent> = {}): TelltaleEvent {
  return {
    seq,
    source: "s",
    received_at: 1_000 * seq,
    kind: "job",
    entity,
    status,
    raw: "{}",
    ...extra,
  };
}
