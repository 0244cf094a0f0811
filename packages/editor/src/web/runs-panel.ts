/**
 * The queue and history, like a mail client's list: the running run first, then the waiting ones in the
 * order they will start, then finished runs newest first. Each run keeps its row (an element updated in
 * place, never rebuilt), so a click lands even while progress streams in. Rows show the workflow's name,
 * start time, duration, status, progress and a thumbnail, with cancel and "run next" on unfinished runs.
 */
import type { RunSnapshot } from '../shared/protocol.js';
import { isFinished } from '../shared/run-state.js';
import { mediaUrl } from './api.js';

/** What the rows' clicks do. */
export interface RunsPanelActions {
  open(runId: string): void;
  cancel(runId: string): void;
  runNext(runId: string): void;
}

const STATUS_LABEL: Record<RunSnapshot['status'], string> = {
  queued: 'queued',
  running: 'running',
  done: 'done',
  error: 'failed',
  cancelled: 'cancelled',
};

interface Row {
  readonly li: HTMLLIElement;
  readonly name: HTMLElement;
  readonly status: HTMLElement;
  readonly start: HTMLTimeElement;
  readonly duration: HTMLElement;
  readonly extra: HTMLElement;
  readonly bar: HTMLElement;
  readonly thumb: HTMLElement;
  readonly cancel: HTMLButtonElement;
  readonly next: HTMLButtonElement;
  thumbSrc?: string;
}

/** Keeps a list element in step with the runs. */
export class RunsPanel {
  readonly #rows = new Map<string, Row>();
  #runs: RunSnapshot[] = [];
  #queue: readonly string[] = [];
  #shown: string | undefined;
  #canRunNext = false;
  #frame = 0;
  readonly #ticker: number;

  constructor(
    private readonly list: HTMLElement,
    private readonly summary: HTMLElement,
    private readonly actions: RunsPanelActions,
  ) {
    // Durations of running and waiting runs move on by themselves.
    this.#ticker = window.setInterval(() => {
      if (this.#runs.some((r) => !isFinished(r))) this.#schedule();
    }, 1000);
  }

  /** Takes the current runs; the list is brought up to date at the next animation frame. */
  update(
    runs: readonly RunSnapshot[],
    queue: readonly string[],
    shownId: string | undefined,
    canRunNext: boolean,
  ): void {
    this.#runs = [...runs];
    this.#queue = queue;
    this.#shown = shownId;
    this.#canRunNext = canRunNext;
    this.#schedule();
  }

  /** Brings the list up to date now (tests, and the first paint). */
  flush(): void {
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    this.#render();
  }

  dispose(): void {
    clearInterval(this.#ticker);
  }

  #schedule(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#render();
    });
  }

  #render(): void {
    const ordered = orderRuns(this.#runs, this.#queue);
    const keep = new Set(ordered.map((r) => r.id));
    for (const [id, row] of this.#rows) {
      if (keep.has(id)) continue;
      row.li.remove();
      this.#rows.delete(id);
    }
    const waiting = ordered.filter((r) => r.status === 'queued').map((r) => r.id);
    ordered.forEach((run, index) => {
      const row = this.#rows.get(run.id) ?? this.#create(run.id);
      this.#fill(row, run, waiting);
      // Move only rows that are out of place: an element that stays put keeps hover and pending clicks.
      if (this.list.children[index] !== row.li) this.list.insertBefore(row.li, this.list.children[index] ?? null);
    });
    const running = this.#runs.filter((r) => r.status === 'running').length;
    this.summary.textContent = [
      running ? `${running} running` : '',
      waiting.length ? `${waiting.length} waiting` : '',
      `${this.#runs.filter(isFinished).length} in history`,
    ]
      .filter(Boolean)
      .join(' \u00b7 ');
  }

  #create(id: string): Row {
    const li = document.createElement('li');
    li.dataset.runId = id;
    li.tabIndex = 0;
    li.innerHTML =
      '<div class="thumb"></div><div class="main"><div class="line"><span class="name"></span><span class="status"></span></div>' +
      '<div class="line meta"><time class="start"></time><span class="duration"></span><span class="extra"></span></div>' +
      '<div class="bar"><i></i></div></div><div class="actions"></div>';
    const next = Object.assign(document.createElement('button'), {
      type: 'button',
      className: 'run-next',
      textContent: '\u2191',
      title: 'Run next: move to the head of the queue',
    });
    next.setAttribute('aria-label', 'Run next');
    const cancel = Object.assign(document.createElement('button'), {
      type: 'button',
      className: 'cancel',
      textContent: '\u00d7',
      title: 'Cancel this run',
    });
    cancel.setAttribute('aria-label', 'Cancel');
    li.querySelector('.actions')!.append(next, cancel);
    next.addEventListener('click', (e) => {
      e.stopPropagation();
      this.actions.runNext(id);
    });
    cancel.addEventListener('click', (e) => {
      e.stopPropagation();
      this.actions.cancel(id);
    });
    li.addEventListener('click', () => this.actions.open(id));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.actions.open(id);
      else if (e.key === 'Delete' && !li.classList.contains('finished')) this.actions.cancel(id);
    });
    const row: Row = {
      li,
      name: li.querySelector('.name')!,
      status: li.querySelector('.status')!,
      start: li.querySelector('.start')!,
      duration: li.querySelector('.duration')!,
      extra: li.querySelector('.extra')!,
      bar: li.querySelector('.bar i')!,
      thumb: li.querySelector('.thumb')!,
      cancel,
      next,
    };
    this.#rows.set(id, row);
    return row;
  }

  #fill(row: Row, run: RunSnapshot, waiting: readonly string[]): void {
    const finished = isFinished(run);
    setText(row.name, run.name ?? 'Untitled workflow');
    row.name.title = `${run.name ?? 'Untitled workflow'}${run.targets?.length ? ` (run to ${run.targets.join(', ')})` : ''}`;
    setText(row.status, STATUS_LABEL[run.status]);
    const started = run.startedAt ?? run.createdAt;
    const when = new Date(started);
    setText(row.start, formatClock(when));
    row.start.dateTime = when.toISOString();
    row.start.title = `${run.startedAt ? 'Started' : 'Queued'} ${when.toLocaleString()}`;
    setText(row.duration, duration(run));
    setText(
      row.extra,
      [
        run.targets?.length ? `to ${run.targets.join(', ')}` : '',
        run.cached.length ? `${run.cached.length} cached` : '',
        run.status === 'queued' && waiting.indexOf(run.id) > 0 ? `#${waiting.indexOf(run.id) + 1} in line` : '',
      ]
        .filter(Boolean)
        .join(' \u00b7 '),
    );
    const className = `run ${run.status}${finished ? ' finished' : ''}${run.id === this.#shown ? ' shown' : ''}`;
    if (row.li.className !== className) row.li.className = className;
    row.bar.style.width = `${Math.round(fraction(run) * 100)}%`;
    row.li.title = run.error ? `${run.error.code}: ${run.error.message}` : '';
    row.cancel.hidden = finished;
    // "Run next" only makes sense for a run that waits behind another (and where the server can move it).
    row.next.hidden = !(this.#canRunNext && run.status === 'queued' && waiting.indexOf(run.id) > 0);
    this.#thumbnail(row, run);
  }

  #thumbnail(row: Row, run: RunSnapshot): void {
    const image = run.files.find((f) => /\.(png|gif)$/i.test(f));
    const video = run.files.find((f) => /\.(mp4|webm)$/i.test(f));
    // While it runs, the newest preview; once finished, the server's thumbnail (the last preview).
    const live = isFinished(run) ? undefined : Object.values(run.nodes).findLast((n) => n.preview)?.preview;
    const src = run.thumbnail ?? (live ? `data:${live.mime};base64,${live.data}` : undefined) ?? image ?? video;
    if (src === row.thumbSrc) return;
    row.thumbSrc = src;
    if (!src) {
      row.thumb.replaceChildren();
      return;
    }
    if (src === video) {
      // The first frame, fetched only when the row is drawn.
      const el = Object.assign(document.createElement('video'), { muted: true, preload: 'metadata' });
      el.src = `${mediaUrl(src)}#t=0.1`;
      row.thumb.replaceChildren(el);
    } else {
      const img = Object.assign(document.createElement('img'), { loading: 'lazy', alt: '' });
      img.src = src.startsWith('data:') ? src : mediaUrl(src);
      row.thumb.replaceChildren(img);
    }
  }
}

/**
 * Running first, then waiting runs in queue order (as the server says; else front runs, latest first, then
 * by priority and age), then finished runs newest first.
 */
export function orderRuns(runs: readonly RunSnapshot[], queue: readonly string[]): RunSnapshot[] {
  const rank = (r: RunSnapshot) => (r.status === 'running' ? 0 : r.status === 'queued' ? 1 : 2);
  const position = (id: string) => {
    const i = queue.indexOf(id);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const waitingOrder = (a: RunSnapshot, b: RunSnapshot) =>
    position(a.id) - position(b.id) ||
    Number(b.front === true) - Number(a.front === true) ||
    (a.front && b.front ? b.createdAt - a.createdAt : 0) ||
    (a.priority ?? 5) - (b.priority ?? 5) ||
    a.createdAt - b.createdAt;
  return [...runs].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 1) return waitingOrder(a, b);
    return (b.endedAt ?? b.startedAt ?? b.createdAt) - (a.endedAt ?? a.startedAt ?? a.createdAt);
  });
}

function fraction(run: RunSnapshot): number {
  if (run.status === 'done') return 1;
  const nodes = Object.values(run.nodes);
  const total = run.order.length || nodes.length || 1;
  const finished = nodes.filter((n) => n.status === 'done' || n.status === 'cached').length;
  const running = nodes.filter((n) => n.status === 'running').reduce((sum, n) => sum + n.progress, 0);
  return Math.min(1, (finished + running) / total);
}

function duration(run: RunSnapshot): string {
  if (isFinished(run) && run.startedAt === undefined) return 'never started';
  if (run.ms !== undefined && isFinished(run)) return formatMs(run.ms);
  if (run.status === 'running' && run.startedAt) return formatMs(Date.now() - run.startedAt);
  if (run.status === 'queued') return 'waiting';
  return '';
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Time of day for today, date and time for earlier days. */
function formatClock(when: Date): string {
  const now = new Date();
  const sameDay = when.toDateString() === now.toDateString();
  const time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${when.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
