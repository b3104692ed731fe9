import { type Document, isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { ConfigIssue, PathSegment } from './issues.js';
import { duplicateKeyOffsets } from './yaml-duplicates.js';
import { guardYamlDocument } from './yaml-guard.js';

/** A parsed YAML file that can answer "where is this key path?". */
export class YamlSource {
  readonly file: string;
  readonly document: Document;
  readonly #lines: LineCounter;
  readonly #text: string;
  #duplicates: number[] | undefined;

  private constructor(file: string, text: string, document: Document, lines: LineCounter) {
    this.file = file;
    this.document = document;
    this.#lines = lines;
    this.#text = text;
  }

  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const document = parseDocument(text, {
      lineCounter: lines,
      merge: true,
      prettyErrors: false,
      // Checked by duplicateKeyOffsets instead: the library's own check is quadratic in a mapping's size.
      uniqueKeys: false,
    });
    return new YamlSource(file, text, document, lines);
  }

  /** Syntax errors and duplicate keys, each with its own position, in the order of the text. */
  syntaxIssues(): ConfigIssue[] {
    const duplicates: ConfigIssue[] = this.#duplicateKeys().map((offset) => {
      const position = this.#lines.linePos(offset);
      const message = `duplicate key ${this.#keyTextAt(offset)}: each key may appear once in a mapping`;
      return { file: this.file, line: position.line, column: position.col, path: '', message };
    });
    const errors: ConfigIssue[] = this.document.errors.map((error) => {
      const position = this.#lines.linePos(error.pos[0]);
      const message =
        error.code === 'MULTIPLE_DOCS'
          ? 'a second YAML document starts here: the file holds one document, so remove this `---` and what follows it (or merge it into the first)'
          : `YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      return { file: this.file, line: position.line, column: position.col, path: '', message };
    });
    return [...errors, ...duplicates].sort((a, b) => a.line - b.line || a.column - b.column);
  }

  #duplicateKeys(): number[] {
    this.#duplicates ??= duplicateKeyOffsets(this.document);
    return this.#duplicates;
  }

  /**
   * Alias bombs, merge keys without a mapping and object-internal keys (see guardYamlDocument), each
   * with its position. Must be empty before toJS() is called.
   */
  guardIssues(): ConfigIssue[] {
    return guardYamlDocument(this.document).map((problem) => {
      const position = this.#at(problem.offset);
      return {
        file: this.file,
        line: position.line,
        column: position.column,
        path: '',
        message: problem.message,
      };
    });
  }

  /** True when the file holds no document at all (empty, only comments, or a bare `---` / `...`). */
  isEmpty(): boolean {
    const contents = this.document.contents;
    return contents === null || contents === undefined || (isScalar(contents) && contents.source === '');
  }

  hasOnlyDuplicateKeyErrors(): boolean {
    return this.document.errors.length === 0;
  }

  /** Plain data of the document; run guardIssues() first (it refuses what would make this throw or hang). */
  toJS(): unknown {
    return this.document.toJS({ maxAliasCount: -1 }) ?? {};
  }

  /**
   * Line and column of a key path. With `key`, the position of the last key itself rather than its
   * value (for unknown keys). A path that does not exist resolves to its nearest existing parent.
   */
  position(path: readonly PathSegment[], options: { key?: boolean } = {}): { line: number; column: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      if (options.key === true && depth === path.length && depth > 0) {
        const keyNode = this.#keyNode(prefix);
        if (keyNode?.range) return this.#at(keyNode.range[0]);
      }
      const node = prefix.length === 0 ? this.document.contents : this.document.getIn(prefix, true);
      const range = (node as Node | null | undefined)?.range;
      if (range) return this.#at(range[0]);
      if (depth < path.length && prefix.length > 0) {
        const keyNode = this.#keyNode(prefix);
        if (keyNode?.range) return this.#at(keyNode.range[0]);
      }
    }
    return { line: 1, column: 1 };
  }

  #keyNode(path: readonly PathSegment[]): Node | undefined {
    const parent = path.length === 1 ? this.document.contents : this.document.getIn(path.slice(0, -1), true);
    if (!isMap(parent)) return undefined;
    const last = path[path.length - 1];
    for (const pair of parent.items) {
      if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === String(last)) return pair.key;
    }
    return undefined;
  }

  #keyTextAt(offset: number): string {
    const match = /^[^:\n]+/.exec(this.#text.slice(offset));
    return match ? JSON.stringify(match[0].trim()) : '';
  }

  #at(offset: number): { line: number; column: number } {
    const position = this.#lines.linePos(offset);
    return { line: position.line, column: position.col };
  }
}
