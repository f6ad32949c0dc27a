// A tiny runtime type checker: each checker returns null when the value fits, or the
// path and reason of the first mismatch. Used on every payload from the relay and by
// the fixture tests, so the TS types and the Rust JSON cannot drift apart silently.

export type Problem = string | null;
export type Checker = (v: unknown, path: string) => Problem;

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

export const str: Checker = (v, p) => (typeof v === "string" ? null : `${p}: expected string, got ${typeName(v)}`);
export const num: Checker = (v, p) =>
  typeof v === "number" && Number.isFinite(v) ? null : `${p}: expected number, got ${typeName(v)}`;
export const int: Checker = (v, p) =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 ? null : `${p}: expected unsigned integer, got ${String(v)}`;
export const bool: Checker = (v, p) => (typeof v === "boolean" ? null : `${p}: expected boolean, got ${typeName(v)}`);
export const unknownValue: Checker = () => null;

export function oneOf(values: readonly string[]): Checker {
  return (v, p) =>
    typeof v === "string" && values.includes(v) ? null : `${p}: expected one of ${values.join("|")}, got ${JSON.stringify(v)}`;
}

export function nullable(c: Checker): Checker {
  return (v, p) => (v === null ? null : c(v, p));
}

export function arrayOf(c: Checker): Checker {
  return (v, p) => {
    if (!Array.isArray(v)) return `${p}: expected array, got ${typeName(v)}`;
    for (let i = 0; i < v.length; i++) {
      const e = c(v[i], `${p}[${i}]`);
      if (e) return e;
    }
    return null;
  };
}

export function recordOf(c: Checker): Checker {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return `${p}: expected object, got ${typeName(v)}`;
    for (const [k, x] of Object.entries(v)) {
      const e = c(x, `${p}.${k}`);
      if (e) return e;
    }
    return null;
  };
}

/** Required and optional fields. Optional fields may be absent but never `null`
 * (serde's `skip_serializing_if` omits them). Extra fields are allowed unless
 * `exact` is set, so a newer relay can add fields without breaking an older UI. */
export function object(
  required: Record<string, Checker>,
  optional: Record<string, Checker> = {},
  exact = false,
): Checker {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return `${p}: expected object, got ${typeName(v)}`;
    const o = v as Record<string, unknown>;
    for (const [k, c] of Object.entries(required)) {
      if (!(k in o)) return `${p}.${k}: missing`;
      const e = c(o[k], `${p}.${k}`);
      if (e) return e;
    }
    for (const [k, c] of Object.entries(optional)) {
      if (k in o) {
        const e = c(o[k], `${p}.${k}`);
        if (e) return e;
      }
    }
    if (exact) {
      for (const k of Object.keys(o)) {
        if (!(k in required) && !(k in optional)) return `${p}.${k}: unexpected field`;
      }
    }
    return null;
  };
}

export function anyOf(...cs: Checker[]): Checker {
  return (v, p) => {
    let first: Problem = null;
    for (const c of cs) {
      const e = c(v, p);
      if (!e) return null;
      first ??= e;
    }
    return first;
  };
}

/** Thrown when a payload does not match its type. */
export class ShapeError extends Error {
  constructor(
    readonly what: string,
    readonly problem: string,
  ) {
    super(`unexpected ${what} from the relay: ${problem}`);
    this.name = "ShapeError";
  }
}

/** Narrows `v` to `T` or throws a ShapeError naming the first bad field. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is what the checker proved
export function expect<T>(c: Checker, what: string, v: unknown): T {
  const e = c(v, what);
  if (e) throw new ShapeError(what, e);
  return v as T;
}
