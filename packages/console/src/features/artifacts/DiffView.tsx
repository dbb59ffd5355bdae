import { useMemo } from 'react';
import { parsePatch } from 'diff';

interface Row {
  left?: { n: number; text: string; kind: 'ctx' | 'del' };
  right?: { n: number; text: string; kind: 'ctx' | 'add' };
  hunk?: string;
}

/** Pair a hunk's removed and added runs line by line, the way side-by-side diff tools do. */
function rowsOf(text: string): { file: string; rows: Row[] }[] {
  return parsePatch(text).map((patch) => {
    const rows: Row[] = [];
    for (const hunk of patch.hunks) {
      rows.push({ hunk: `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@` });
      let oldN = hunk.oldStart;
      let newN = hunk.newStart;
      let dels: string[] = [];
      let adds: string[] = [];
      const flush = () => {
        for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
          rows.push({
            left: i < dels.length ? { n: oldN++, text: dels[i]!, kind: 'del' } : undefined,
            right: i < adds.length ? { n: newN++, text: adds[i]!, kind: 'add' } : undefined,
          });
        }
        dels = [];
        adds = [];
      };
      for (const line of hunk.lines) {
        const mark = line[0];
        const body = line.slice(1);
        if (mark === '-') dels.push(body);
        else if (mark === '+') adds.push(body);
        else if (mark === ' ') {
          flush();
          rows.push({
            left: { n: oldN++, text: body, kind: 'ctx' },
            right: { n: newN++, text: body, kind: 'ctx' },
          });
        }
      }
      flush();
    }
    const strip = (name?: string) => (name ?? '').replace(/^[ab]\//, '');
    const [from, to] = [strip(patch.oldFileName), strip(patch.newFileName)];
    return { file: !to || to === from ? from : !from || from === '/dev/null' ? to : `${from} → ${to}`, rows };
  });
}

/** A unified diff shown side by side: old on the left, new on the right. */
export function DiffView({ text }: { text: string }) {
  const files = useMemo(() => rowsOf(text), [text]);
  if (files.every((f) => f.rows.length === 0)) return <pre className="text-view">{text}</pre>;
  return (
    <div className="diff" data-viewer="diff">
      {files.map((f, i) => (
        <table key={i} className="diff-table" aria-label={`Changes in ${f.file || 'file'}`}>
          <caption>{f.file}</caption>
          <colgroup>
            <col className="dn" />
            <col />
            <col className="dn" />
            <col />
          </colgroup>
          <thead className="sr-only">
            <tr>
              <th>Old line</th>
              <th>Old</th>
              <th>New line</th>
              <th>New</th>
            </tr>
          </thead>
          <tbody>
            {f.rows.map((r, j) =>
              r.hunk ? (
                <tr key={j} className="diff-hunk">
                  <td colSpan={4}>{r.hunk}</td>
                </tr>
              ) : (
                <tr key={j}>
                  <td className="dn">{r.left?.n ?? ''}</td>
                  <td className={`dl d-${r.left?.kind ?? 'none'}`}>{r.left?.text ?? ''}</td>
                  <td className="dn">{r.right?.n ?? ''}</td>
                  <td className={`dl d-${r.right?.kind ?? 'none'}`}>{r.right?.text ?? ''}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      ))}
    </div>
  );
}
