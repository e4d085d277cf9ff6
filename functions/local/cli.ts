import { parseArgs } from "node:util";

/**
 * What the local command-line tools share so they behave like Unix tools: `--help` / `-h`
 * prints the usage and exits 0; an unknown option or a bad value is one line on stderr and
 * exit 2; a reader that closes stdout early (`| head`) ends the tool quietly with exit 0.
 */
export interface CliOption {
  type: "boolean" | "string";
  short?: string;
  default?: boolean | string;
  /** The placeholder shown in the usage for a string option, e.g. URL. */
  value?: string;
  help: string;
}

export interface CliSpec {
  tool: string;
  /** The first line of the usage, after `usage: `. */
  synopsis: string;
  description: string;
  options: Record<string, CliOption>;
  /** Where the default of an option comes from when it is not a constant. */
  defaults?: Record<string, string>;
  examples: string[];
}

type Values<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean : string | undefined;
};

export function usage(spec: CliSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    const from = spec.defaults?.[name] ?? (o.default !== undefined ? String(o.default) : undefined);
    return [flag, `${o.help}${from !== undefined ? ` (default: ${from})` : ""}`] as const;
  });
  rows.push(["-h, --help", "print this help and exit"]);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `usage: ${spec.synopsis}`,
    "",
    spec.description,
    "",
    "options:",
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
    "",
    "examples:",
    ...spec.examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** Parses `argv` by `spec`; prints the usage and exits for `--help`, exits 2 for a bad option. */
export function parseCli<O extends Record<string, CliOption>>(
  spec: CliSpec & { options: O },
  argv: string[] = process.argv.slice(2),
): Values<O> {
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.default !== undefined ? { default: o.default } : {}),
      },
    ]),
  );
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    usageError(spec.tool, describeArgError(err as Error & { code?: string }));
  }
  if (values.help) {
    process.stdout.write(usage(spec));
    process.exit(0);
  }
  return values as Values<O>;
}

/** One line on stderr pointing at `--help`, and exit 2. */
export function usageError(tool: string, message: string): never {
  process.stderr.write(`${tool}: ${message} (see --help)\n`);
  process.exit(2);
}

function describeArgError(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${quoted ?? err.message}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${quoted ?? err.message}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(err.message)
        ? `option ${quoted?.split(" ")[0] ?? ""} needs a value`
        : `bad value for option ${quoted?.split(" ")[0] ?? ""}`;
    default:
      return err.message.split("\n")[0] ?? "bad arguments";
  }
}

/**
 * A reader that closes stdout early (`| head`) ends the tool quietly, with exit 0: a pipe
 * says EPIPE, a socket (a parent's stdio socket pair) ECONNRESET.
 */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ECONNRESET") process.exit(0);
    throw err;
  });
}
