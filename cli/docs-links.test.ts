// The documentation cannot silently rot: every relative link in README.md, docs/*.md and the
// processor and connector READMEs must point at a file or folder that exists. Anchors are not
// checked (headings move), and links to the web are left alone.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The Markdown files whose links are checked: the README, docs/ and one README per processor or connector folder. */
function documentationFiles(): string[] {
  const markdownIn = (folder: string): string[] =>
    existsSync(join(root, folder)) ? readdirSync(join(root, folder)).filter((name) => name.endsWith('.md')).map((name) => join(folder, name)) : [];
  const folderReadmes = ['processors', 'connectors'].flatMap((parent) =>
    readdirSync(join(root, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, parent, entry.name, 'README.md')))
      .map((entry) => join(parent, entry.name, 'README.md')),
  );
  return ['README.md', ...markdownIn('docs'), ...folderReadmes];
}

/** Targets of inline links `[text](target)`, outside code spans and fenced blocks. */
export function linkTargetsOf(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? '');
}

/** A relative link's file part, or undefined for web links, mail links and pure anchors. */
export function relativePathOf(target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) return undefined;
  return decodeURIComponent(target.split('#')[0] ?? '');
}

describe('linkTargetsOf', () => {
  it('finds inline links and ignores code', () => {
    const markdown = 'See [a](docs/a.md#x) and [b](https://example.com).\n`[c](nope.md)`\n```\n[d](nope.md)\n```\n[e](../f.md "title")';
    expect(linkTargetsOf(markdown)).toEqual(['docs/a.md#x', 'https://example.com', '../f.md']);
    expect(linkTargetsOf(markdown).map(relativePathOf)).toEqual(['docs/a.md', undefined, '../f.md']);
  });
});

describe('documentation links', () => {
  const files = documentationFiles();

  it('covers the README and docs/', () => {
    expect(files).toContain('README.md');
  });

  it.each(files)('every relative link in %s points at an existing file', (file) => {
    const broken = linkTargetsOf(readFileSync(join(root, file), 'utf8'))
      .map((target) => ({ target, path: relativePathOf(target) }))
      .filter(({ path }) => path !== undefined && path !== '' && !existsSync(join(root, dirname(file), path)))
      .map(({ target }) => target);
    expect(broken, `broken links in ${file}`).toEqual([]);
  });

  it.each(files)('no link in %s leaves the repository', (file) => {
    const outside = linkTargetsOf(readFileSync(join(root, file), 'utf8'))
      .map(relativePathOf)
      .filter((path): path is string => path !== undefined && relative(root, join(root, dirname(file), path)).startsWith('..'));
    expect(outside).toEqual([]);
  });
});
