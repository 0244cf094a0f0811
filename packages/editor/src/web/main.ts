/** Entry point of the web app: fetches the catalogue, builds the page around the canvas, connects live. */
import '@comfyorg/litegraph/style.css';
import './style.css';
import type { WorkflowDoc } from '../shared/convert.js';
import type { ExampleWorkflow, RunSnapshot, UploadResult } from '../shared/protocol.js';
import { ApiError, call, connectLive, mediaUrl } from './api.js';
import { EditorApp } from './app.js';
import type { Catalog } from './catalog.js';
import { renderInspector } from './inspector.js';
import { NODE_DRAG_TYPE, renderPalette } from './palette.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const el = $('toast');
  el.textContent = text;
  el.className = `show ${kind}`;
  clearTimeout((toast as { timer?: number }).timer);
  (toast as { timer?: number }).timer = window.setTimeout(() => (el.className = ''), kind === 'error' ? 6000 : 2500);
}

async function start(): Promise<void> {
  const catalog = await call<Catalog>('/api/nodes');
  const canvasEl = $<HTMLCanvasElement>('graph');
  const app = new EditorApp(catalog, canvasEl, $('overlays'), {
    selection: (node) => renderInspector($('inspector-body'), node, () => app.changed()),
    runChanged: (run, runs) => renderRuns(app, run, runs),
    problems: (list) => {
      $('problems').hidden = list.length === 0;
      $('problem-list').replaceChildren(
        ...list.map((p) => {
          const li = document.createElement('li');
          li.textContent = p.nodeId ? `${p.nodeId}: ${p.text}` : p.text;
          if (p.nodeId) li.addEventListener('click', () => focusNode(app, p.nodeId!));
          return li;
        }),
      );
    },
    toast,
    workflowChanged: (name) => ($('workflow-name').textContent = name ?? ''),
  });

  const resize = () => {
    const wrap = $('canvas-wrap');
    app.canvas.resize(wrap.clientWidth, wrap.clientHeight);
    app.canvas.setDirty(true, true);
  };
  new ResizeObserver(resize).observe($('canvas-wrap'));
  resize();

  renderPalette($('palette-list'), $<HTMLInputElement>('search'), catalog.nodes, (type) => app.addNode(type));

  // Examples.
  const examples = await call<ExampleWorkflow[]>('/api/workflows').catch(() => [] as ExampleWorkflow[]);
  const select = $<HTMLSelectElement>('examples');
  for (const e of examples) select.append(new Option(e.name, e.id));
  select.addEventListener('change', () => {
    const example = examples.find((e) => e.id === select.value);
    if (example) loadSafely(app, example.workflow as WorkflowDoc, `Loaded "${example.name}"`);
    select.value = '';
  });
  const first = examples.find((e) => e.id === 'text-to-video') ?? examples[0];
  if (first) app.load(first.workflow as WorkflowDoc);

  // Open, save, drop.
  const fileInput = $<HTMLInputElement>('file');
  $('open').addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void openFile(app, file);
    fileInput.value = '';
  });
  $('save').addEventListener('click', () => save(app));
  const wrap = $('canvas-wrap');
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer?.types.includes('Files')) wrap.classList.add('dropping');
  });
  window.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) wrap.classList.remove('dropping');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    wrap.classList.remove('dropping');
    const type = e.dataTransfer?.getData(NODE_DRAG_TYPE);
    if (type) {
      const rect = canvasEl.getBoundingClientRect();
      const pos = app.canvas.ds.convertCanvasToOffset([e.clientX - rect.left, e.clientY - rect.top]);
      app.addNode(type, [pos[0], pos[1]]);
      return;
    }
    const file = e.dataTransfer?.files[0];
    if (file) void openFile(app, file);
  });

  // Run.
  $('queue').addEventListener('click', () => void app.queue());
  $('cancel').addEventListener('click', () => void app.cancel());

  // Keys litegraph does not own. Typing in a form field is left alone.
  window.addEventListener('keydown', (e) => {
    const target = e.target as HTMLElement;
    const typing = target.closest('input, textarea, select, .graphdialog') !== null;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key === 'Enter') {
      e.preventDefault();
      void app.queue();
    } else if (mod && e.key.toLowerCase() === 's') {
      e.preventDefault();
      save(app);
    } else if (mod && e.key.toLowerCase() === 'o') {
      e.preventDefault();
      fileInput.click();
    } else if (!typing && mod && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      if (e.shiftKey) app.redo();
      else app.undo();
    } else if (!typing && mod && e.key.toLowerCase() === 'y') {
      e.preventDefault();
      app.redo();
    }
  });
  // Mouse and key edits inside the canvas (moves, links, deletes, pastes) are recorded once they end.
  for (const type of ['pointerup', 'keyup']) canvasEl.addEventListener(type, () => queueMicrotask(() => app.changed()));

  connectLive(
    (m) => app.onMessage(m),
    (connected) => {
      const pill = $('connection');
      pill.textContent = connected ? 'connected' : 'reconnecting…';
      pill.className = `pill ${connected ? 'ok' : 'bad'}`;
    },
  );

  // For tests and the console: the app and a few handles on it.
  (window as unknown as { kinegraph: unknown }).kinegraph = {
    app,
    workflow: () => app.workflow(),
    load: (w: WorkflowDoc) => app.load(w),
    setParam: (nodeId: string, name: string, value: unknown) => {
      app.node(nodeId)?.setParam(name, value);
      app.changed();
    },
    linkCount: () => Object.keys(app.graph.links ?? {}).length,
    /** Where a slot is on the page, for real mouse drags. */
    slotPosition: (nodeId: string, side: 'input' | 'output', name: string) => {
      const node = app.node(nodeId)!;
      const slots = side === 'input' ? node.inputs : node.outputs;
      const index = slots.findIndex((s) => s.name === name);
      const p = node.getConnectionPos(side === 'input', index);
      const c = app.canvas.ds.convertOffsetToCanvas(p);
      const rect = canvasEl.getBoundingClientRect();
      return { x: rect.left + c[0], y: rect.top + c[1] };
    },
  };
  document.body.dataset.ready = 'true';
}

function focusNode(app: EditorApp, nodeId: string): void {
  const node = app.node(nodeId);
  if (!node) return;
  app.canvas.centerOnNode(node);
  app.canvas.selectNode(node);
  app.canvas.setDirty(true, true);
}

function loadSafely(app: EditorApp, workflow: WorkflowDoc, message: string): void {
  try {
    app.load(workflow);
    toast(message);
  } catch (error) {
    toast((error as Error).message, 'error');
  }
}

/** A workflow file, or a picture/video Kinegraph made (its embedded workflow). */
async function openFile(app: EditorApp, file: File): Promise<void> {
  try {
    if (file.name.endsWith('.json') || file.type === 'application/json') {
      loadSafely(app, JSON.parse(await file.text()) as WorkflowDoc, `Opened ${file.name}`);
      return;
    }
    let workflow: WorkflowDoc;
    try {
      ({ workflow } = await call<{ workflow: WorkflowDoc }>('/api/workflows/extract', { method: 'POST', body: file }));
    } catch (error) {
      // A picture or video that Kinegraph did not make is an input: upload it and add a loader for it.
      if (error instanceof ApiError && error.body.error.code === 'NO_EMBEDDED_WORKFLOW')
        return await uploadAsInput(app, file);
      throw error;
    }
    loadSafely(app, workflow, `Loaded the workflow embedded in ${file.name}`);
  } catch (error) {
    toast(
      error instanceof ApiError
        ? `${error.body.error.message} ${error.body.error.hint ?? ''}`
        : `Cannot open ${file.name}: ${(error as Error).message}`,
      'error',
    );
  }
}

async function uploadAsInput(app: EditorApp, file: File): Promise<void> {
  const video = /^video\//.test(file.type) || /\.(mp4|webm|gif)$/i.test(file.name);
  const kind = video ? 'video' : 'image';
  const result = await call<UploadResult>(`/api/uploads?kind=${kind}&name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    body: file,
  });
  const node = app.addNode(video ? 'kinegraph/load-video' : 'kinegraph/load-image');
  if (node) {
    node.setParam('path', result.path);
    app.changed();
  }
  toast(`Uploaded ${file.name} as inputs/${result.name}`);
}

function save(app: EditorApp): void {
  const workflow = app.workflow();
  const name = (workflow.name ?? 'workflow').replace(/[^A-Za-z0-9_-]+/g, '-').toLowerCase() || 'workflow';
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(workflow, null, 2)}\n`], { type: 'application/json' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: `${name}.json` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const STATUS_LABEL: Record<RunSnapshot['status'], string> = {
  queued: 'queued',
  running: 'running',
  done: 'done',
  error: 'failed',
  cancelled: 'cancelled',
};

function renderRuns(app: EditorApp, shown: RunSnapshot | undefined, runs: RunSnapshot[]): void {
  const active = shown && (shown.status === 'queued' || shown.status === 'running');
  $<HTMLButtonElement>('cancel').disabled = !active;
  $('queue').classList.toggle('busy', Boolean(active));
  $('run-list').replaceChildren(
    ...runs
      .slice(-12)
      .reverse()
      .map((run) => {
        const li = document.createElement('li');
        li.className = `run ${run.status}${run.id === shown?.id ? ' shown' : ''}`;
        const total = run.order.length || 1;
        const finished = Object.values(run.nodes).filter((n) => n.status === 'done' || n.status === 'cached').length;
        const running = Object.values(run.nodes).find((n) => n.status === 'running');
        const fraction = run.status === 'done' ? 1 : (finished + (running?.progress ?? 0)) / total;
        li.innerHTML =
          '<div class="row"><span class="status"></span><span class="name"></span><span class="time"></span></div><div class="bar"><i></i></div>';
        li.querySelector('.status')!.textContent = STATUS_LABEL[run.status];
        li.querySelector('.name')!.textContent = run.name ?? run.id.slice(0, 8);
        li.querySelector('.time')!.textContent =
          run.ms !== undefined
            ? `${(run.ms / 1000).toFixed(1)} s${run.cached.length ? ` \u00b7 ${run.cached.length} cached` : ''}`
            : '';
        (li.querySelector('.bar i') as HTMLElement).style.width = `${Math.round(fraction * 100)}%`;
        li.title = run.error ? `${run.error.code}: ${run.error.message}` : run.id;
        li.addEventListener('click', () => {
          app.shownRunId = run.id;
          app.refreshRunView();
        });
        return li;
      }),
  );
  const out = $('output-body');
  if (!shown) {
    // A newly loaded workflow has no result yet; the queue still lists the earlier runs.
    out.className = 'muted';
    out.textContent = 'Run the workflow to see its result here.';
    delete out.dataset.src;
    return;
  }
  const file = shown?.files.find((f) => /\.(mp4|webm)$/i.test(f)) ?? shown?.files.find((f) => /\.(gif|png)$/i.test(f));
  if (shown.status === 'error' && shown.error) {
    out.className = 'error-text';
    out.textContent = `${shown.error.nodeId ? `Node "${shown.error.nodeId}" failed \u2014 ` : ''}${shown.error.code}: ${shown.error.message}${shown.error.hint ? `\n${shown.error.hint}` : ''}`;
  } else if (file) {
    const src = mediaUrl(file);
    if (out.dataset.src !== src) {
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
        : Object.assign(document.createElement('img'), { src });
      const link = Object.assign(document.createElement('a'), {
        href: src,
        download: file.split('/').pop() ?? 'output',
        textContent: `\u2913 ${decodeURIComponent(file.split('/').pop() ?? '')}`,
      });
      out.replaceChildren(media, link);
    }
  } else if (!isDone(shown)) {
    out.className = 'muted';
    out.textContent = shown.status === 'queued' ? 'Waiting in the queue\u2026' : 'Running\u2026';
    delete out.dataset.src;
  }
}

function isDone(run: RunSnapshot): boolean {
  return run.status === 'done' || run.status === 'error' || run.status === 'cancelled';
}

start().catch((error: unknown) => {
  document.body.dataset.ready = 'error';
  toast(`The editor could not start: ${error instanceof Error ? error.message : String(error)}`, 'error');
});
