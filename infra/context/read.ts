import { ConfigError, isSet, readSettings, type Settings, type ValuesOf } from "../../lib/core/config";

/**
 * Reading the CDK context (`cdk.json`, or `-c key=value` on the command line): values given
 * on the command line arrive as strings, values in `cdk.json` may be typed JSON; both are
 * read by the same schemas. Every error names its key.
 */

/** The error for a bad context key: lib's ConfigError, naming the key. */
export function contextError(key: string, message: string): ConfigError {
  return new ConfigError(`configuration ${key}: ${message}`, key);
}

/** Every key of `settings` read from the context, unset ones as their defaults. */
export function readContext<S extends Settings>(
  settings: S,
  context: Readonly<Record<string, unknown>>,
): ValuesOf<S> {
  return readSettings(settings, context, (key) => `configuration ${key}`);
}

/** Whether the context gives a key (rather than leaving it to its default). */
export type Given = (key: string) => boolean;

export function givenIn(context: Readonly<Record<string, unknown>>): Given {
  return (key) => isSet(context[key]);
}
