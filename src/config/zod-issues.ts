import type * as z from 'zod';
import { didYouMean } from '../util/did-you-mean.js';
import { type ConfigIssue, describeValue, formatPath, type PathSegment } from './issues.js';
import type { YamlSource } from './yaml-source.js';

type Issue = z.core.$ZodIssue;
type SchemaDef = { type: string; [key: string]: unknown };

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** Unwraps optional/default/nullable/pipe wrappers to the schema that does the work. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(current);
    if (def === undefined) return current;
    if ('innerType' in def) current = def['innerType'];
    else if (def.type === 'pipe') current = def['in'];
    else return current;
  }
  return current;
}

/** The keys an object schema accepts at `path`, for "did you mean" suggestions. */
export function knownKeysAt(schema: unknown, path: readonly PathSegment[]): string[] {
  let current = unwrap(schema);
  for (const segment of path) {
    const def = defOf(current);
    if (def === undefined) return [];
    if (def.type === 'object') current = (def['shape'] as Record<string, unknown>)[String(segment)];
    else if (def.type === 'record') current = def['valueType'];
    else if (def.type === 'array') current = def['element'];
    else if (def.type === 'union') {
      const options = def['options'] as unknown[];
      current = options.map(unwrap).find((option) => defOf(option)?.type === 'object');
      if (current !== undefined)
        current = (defOf(current)!['shape'] as Record<string, unknown>)[String(segment)];
    } else return [];
    current = unwrap(current);
  }
  const def = defOf(current);
  if (def?.type === 'object') return Object.keys(def['shape'] as Record<string, unknown>);
  if (def?.type === 'union') {
    const object = (def['options'] as unknown[])
      .map(unwrap)
      .find((option) => defOf(option)?.type === 'object');
    if (object !== undefined) return Object.keys(defOf(object)!['shape'] as Record<string, unknown>);
  }
  return [];
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
    case 'map':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}

function quoteList(values: readonly unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

/** Turns zod's issues into positioned, readable config issues (all of them). */
export function translateIssues(
  issues: readonly Issue[],
  data: unknown,
  source: YamlSource,
  schema: unknown,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const push = (path: readonly PathSegment[], message: string, key = false) => {
    const position = source.position(path, { key });
    out.push({
      file: source.file,
      line: position.line,
      column: position.column,
      path: formatPath(path),
      message,
    });
  };

  const visit = (issue: Issue, prefix: readonly PathSegment[]) => {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    const found = valueAt(data, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) {
          const suggestion = didYouMean(key, known);
          const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
          const allowed = known.length > 0 ? `; allowed keys: ${known.join(', ')}` : '';
          push([...path, key], `unknown key "${key}"${hint}${suggestion === undefined ? allowed : ''}`, true);
        }
        return;
      }
      case 'invalid_type':
        if (found === undefined) push(path, `is required: expected ${typeName(issue.expected)}`);
        else push(path, `expected ${typeName(issue.expected)}, found ${describeValue(found)}`);
        return;
      case 'invalid_value': {
        const values = issue.values.map(String);
        // With one allowed value, that value is the only plausible meaning.
        const suggestion =
          typeof found === 'string'
            ? (didYouMean(found, values) ?? (values.length === 1 ? values[0] : undefined))
            : undefined;
        const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
        // A schema-given message (not zod's default "Invalid option…") says what to do instead.
        const note = issue.message.startsWith('Invalid option') ? '' : `; ${issue.message}`;
        push(path, `expected one of ${quoteList(issue.values)}, found ${describeValue(found)}${hint}${note}`);
        return;
      }
      case 'invalid_key': {
        const key = path[path.length - 1];
        const reason = issue.issues.map((inner) => inner.message).join('; ');
        push(path, `invalid name ${JSON.stringify(key)}: ${reason.replace(/^Invalid string: /, '')}`, true);
        return;
      }
      case 'invalid_union': {
        const branches = issue.errors.filter(
          (branch) => !branch.every((inner) => inner.path.length === 0 && inner.code === 'invalid_type'),
        );
        if (branches.length === 1) {
          for (const inner of branches[0]!) visit(inner, path);
          return;
        }
        const expected = issue.errors
          .flat()
          .filter((inner) => inner.code === 'invalid_type')
          .map((inner) => typeName((inner as { expected: string }).expected));
        push(path, `expected ${[...new Set(expected)].join(' or ')}, found ${describeValue(found)}`);
        return;
      }
      case 'too_small':
        if (issue.origin === 'array')
          push(
            path,
            `expected at least ${issue.minimum} item(s), found ${Array.isArray(found) ? found.length : 0}`,
          );
        else if (issue.origin === 'string') push(path, `must not be empty, found ${describeValue(found)}`);
        else push(path, `expected a value >= ${issue.minimum}, found ${describeValue(found)}`);
        return;
      case 'too_big':
        push(path, `expected a value <= ${issue.maximum}, found ${describeValue(found)}`);
        return;
      case 'invalid_format': {
        const message = issue.message.startsWith('Invalid')
          ? `does not match the expected format ${issue.format === 'regex' ? (issue as { pattern?: string }).pattern : issue.format}`
          : issue.message;
        push(path, `${message}, found ${describeValue(found)}`);
        return;
      }
      default:
        push(path, issue.message);
    }
  };

  for (const issue of issues) visit(issue, []);
  return out;
}
