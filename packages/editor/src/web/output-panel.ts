/** The Output panel: the shown run's result (video or picture, with a download link), or where it stands. */
import type { RunSnapshot } from '../shared/protocol.js';
import { mediaUrl } from './api.js';

/** Shows `run` in `out`; a media element already showing the same file is left playing. */
export function renderOutput(out: HTMLElement, run: RunSnapshot | undefined): void {
  const file = run?.files.find((f) => /\.(mp4|webm)$/i.test(f)) ?? run?.files.find((f) => /\.(gif|png)$/i.test(f));
  if (run && !(run.status === 'error' && run.error) && file) {
    showMedia(out, file);
    return;
  }
  const [text, className] = describe(run);
  if (out.className === className && out.textContent === text && !out.dataset.src) return;
  out.className = className;
  out.textContent = text;
  delete out.dataset.src;
}

/** What the panel says about a run that has no picture to show. */
function describe(run: RunSnapshot | undefined): [text: string, className: string] {
  if (!run) return ['Run the workflow to see its result here.', 'muted'];
  if (run.status === 'error' && run.error) {
    const e = run.error;
    return [
      `${e.nodeId ? `Node "${e.nodeId}" failed \u2014 ` : ''}${e.code}: ${e.message}${e.hint ? `\n${e.hint}` : ''}`,
      'error-text',
    ];
  }
  switch (run.status) {
    case 'queued':
      return ['Waiting in the queue\u2026', 'muted'];
    case 'running': {
      const node = Object.entries(run.nodes).find(([, n]) => n.status === 'running');
      return [node ? `Running "${node[0]}" (${Math.round(node[1].progress * 100)}%)\u2026` : 'Running\u2026', 'muted'];
    }
    case 'cancelled':
      return [
        run.startedAt === undefined
          ? 'Cancelled before it started.'
          : `Cancelled${run.ms !== undefined ? ` after ${(run.ms / 1000).toFixed(1)} s` : ''}.`,
        'muted',
      ];
    case 'done':
      return [
        `Done in ${((run.ms ?? 0) / 1000).toFixed(1)} s${run.targets?.length ? ` (run to ${run.targets.join(', ')})` : ''}; no video or picture was written.`,
        'muted',
      ];
    default:
      return ['', 'muted'];
  }
}

function showMedia(out: HTMLElement, file: string): void {
  const src = mediaUrl(file);
  if (out.dataset.src === src) return;
  out.dataset.src = src;
  out.className = '';
  const media = /\.(mp4|webm)$/i.test(file)
    ? Object.assign(document.createElement('video'), {
        src,
        controls: true,
        autoplay: true,
        loop: true,
        muted: true,
        playsInline: true,
      })
    : Object.assign(document.createElement('img'), { src, alt: 'Result' });
  const name = decodeURIComponent(file.split('/').pop() ?? 'output');
  const link = Object.assign(document.createElement('a'), {
    href: src,
    download: name,
    textContent: `Download ${name}`,
  });
  out.replaceChildren(media, link);
}
