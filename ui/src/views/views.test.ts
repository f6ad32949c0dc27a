import { describe, expect, it } from "vitest";
import { literalSecretsInUrl, savedMessage } from "./Sources";
import { seconds } from "./Rules";
import { JobRow } from "./Jobs";
import type { EntityState } from "../api/types";

describe("Sources: secrets written in clear in a URL", () => {
  it("accepts ${NAME} references, *** (unchanged) and URLs without secrets", () => {
    expect(literalSecretsInUrl("redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0?channel=jobs")).toEqual([]);
    expect(literalSecretsInUrl("redis://user:${REDIS_PASSWORD}@host/0")).toEqual([]);
    expect(literalSecretsInUrl("redis://:***@host:6379/0")).toEqual([]);
    expect(literalSecretsInUrl("https://api.example.com/events?token=${API_TOKEN}&since=0")).toEqual([]);
    expect(literalSecretsInUrl("https://api.example.com/events?token=%24%7BAPI_TOKEN%7D")).toEqual([]);
    expect(literalSecretsInUrl("redis://127.0.0.1:6379/0?channel=jobs&pattern=job:*")).toEqual([]);
    expect(literalSecretsInUrl("bullmq://user@localhost:6379/0?queue=emails")).toEqual([]);
  });

  it("finds a literal password and secret query values", () => {
    expect(literalSecretsInUrl("redis://:hunter2@127.0.0.1:6379/0")).toEqual(["the password"]);
    expect(literalSecretsInUrl("https://x.example/e?token=abc&api_key=${K}")).toEqual(["?token="]);
    expect(literalSecretsInUrl("rediss://u:p@h/0?auth=zzz")).toEqual(["the password", "?auth="]);
  });
});

describe("Sources: what a save answered", () => {
  it("says whether the source runs, why not, and the relay's warnings", () => {
    expect(savedMessage("Added", { name: "a", running: true, warnings: [] })).toEqual({ kind: "info", text: "Added a; it is running." });
    expect(savedMessage("Disabled", { name: "a", running: false, warnings: [] }).text).toBe("Disabled a; it is not running (disabled).");
    const m = savedMessage("Saved", { name: "a", running: false, reason: "bad url", warnings: ["w1"] });
    expect(m.kind).toBe("warn");
    expect(m.text).toBe("Saved a; it is not running: bad url. Warnings: w1.");
  });
});

describe("Rules: seconds fields", () => {
  it("are whole, non-negative numbers", () => {
    expect(seconds("30")).toBe(30);
    expect(seconds("1.6")).toBe(2);
    expect(seconds("")).toBe(0);
    expect(seconds("-5")).toBe(0);
    expect(seconds("abc")).toBe(0);
  });
});

describe("Jobs: a row re-renders only when it must", () => {
  const state = (): EntityState => ({ kind: "job", entity: "j", source: "s", status: "running", first_seen: 1, last_seen: 2, last_seq: 5, events: 2 });
  it("skips a row whose job, selection and clock did not change", () => {
    const s = state();
    const props = { s, seq: 5, events: 2, selected: false, now: 0 };
    const row = new JobRow(props);
    row.props = props;
    expect(row.shouldComponentUpdate({ ...props })).toBe(false);
    expect(row.shouldComponentUpdate({ ...props, seq: 6, events: 3 })).toBe(true);
    expect(row.shouldComponentUpdate({ ...props, selected: true })).toBe(true);
    expect(row.shouldComponentUpdate({ ...props, now: 1_000 })).toBe(true);
    expect(row.shouldComponentUpdate({ ...props, s: state() })).toBe(true);
  });
});
