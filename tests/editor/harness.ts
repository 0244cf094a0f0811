// A real server and Debian's Chromium (through playwright-core) for the editor's end-to-end tests: each
// test file gets its own working folder, server and browser profile. Screenshots go to
// $KINEGRAPH_SCREENSHOTS (default: a temp folder); `docShot` also writes the README's pictures when
// KINEGRAPH_DOC_SHOTS=1.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env.KINEGRAPH_CHROMIUM ?? '/usr/lib/chromium/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const hasWebBuild = existsSync(join(root, 'packages/editor/dist/web/index.html'));
export const canRun = hasChromium && hasWebBuild;
export const shots = process.env.KINEGRAPH_SCREENSHOTS ?? join(tmpdir(), 'kinegraph-editor-screenshots');
const docShots = process.env.KINEGRAPH_DOC_SHOTS === '1' ? join(root, 'packages/editor/docs') : undefined;

if (!hasChromium)
  console.warn(
    `tests/editor skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set KINEGRAPH_CHROMIUM).`,
  );
if (!hasWebBuild) console.warn('tests/editor skipped: the web app is not built (npm run build -w @kinegraph/editor).');

/** The page's test handle (`window.kinegraph`), as far as the tests use it. */
export interface KinegraphHandle {
  app: {
    shownRunId?: string;
    shownRun(): RunView | undefined;
    runs: Map<string, RunView>;
    node(id: string): NodeView | undefined;
    graph: {
      _nodes: NodeView[];
      _groups: { title: string; color?: string; pos: number[]; size: number[] }[];
      reroutes: Map<number, { pos: number[] }>;
      links: Map<number, { id: number; origin_id: string; target_id: string; _pos?: Float32Array }>;
    };
    canvas: {
      ds: { scale: number; offset: number[]; convertOffsetToCanvas(p: number[]): number[] };
      selected_nodes: Record<string, unknown>;
    };
  };
  workflow(): WorkflowView;
  linkCount(): number;
  slotPosition(nodeId: string, side: 'input' | 'output', name: string): { x: number; y: number };
  toPage?(x: number, y: number): { x: number; y: number };
  load(w: unknown): void;
}
export interface RunView {
  id: string;
  status: string;
  name?: string;
  nodes: Record<string, { status: string; progress: number; preview?: unknown }>;
  files: string[];
}
export interface NodeView {
  id: string;
  pos: number[];
  size: number[];
  title: string;
  mode: number;
}
export interface WorkflowView {
  name?: string;
  nodes: Record<
    string,
    {
      type: string;
      version?: number;
      params?: Record<string, unknown>;
      inputs?: Record<string, { node: string; output: string }>;
      ui?: Record<string, unknown> & { pos?: number[] };
      mode?: string;
    }
  >;
  groups?: { title: string; bounding: number[]; color?: string }[];
  ui?: { reroutes?: { id: number; pos: number[]; parent?: number }[]; links?: unknown[] };
  subgraphs?: Record<string, unknown>;
}
declare const window: { kinegraph: KinegraphHandle };

/** One server + one browser page. */
export class Editor {
  page!: Page;
  url = '';
  cwd = '';
  readonly errors: string[] = [];
  #context!: BrowserContext;
  #profile = '';
  #server?: { close(): Promise<void> };
  #runtime?: { close(): Promise<void> };

  /** Starts a server on a fresh copy of the examples and opens the editor. */
  async start(): Promise<void> {
    mkdirSync(shots, { recursive: true });
    this.cwd = mkdtempSync(join(tmpdir(), 'kg-editor-e2e-'));
    this.#profile = mkdtempSync(join(tmpdir(), 'kg-chromium-'));
    cpSync(join(root, 'workflows'), join(this.cwd, 'workflows'), { recursive: true });
    const { Runtime } = await import('@kinegraph/core');
    this.#runtime = await Runtime.create({ discover: { cwd: root } });
    await this.startServer();
    const { chromium } = await import('playwright-core');
    this.#context = await chromium.launchPersistentContext(this.#profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1440, height: 900 },
    });
    this.page = this.#context.pages()[0] ?? (await this.#context.newPage());
    this.page.on('pageerror', (e) => {
      this.errors.push(e.message);
      console.error('page error:', e.message);
    });
    await this.open();
  }

  /** (Re)starts the server on the same working folder (and so the same history). */
  async startServer(): Promise<void> {
    const { startServer } = await import('@kinegraph/editor');
    const started = await startServer({ port: 0, cwd: this.cwd, runtime: this.#runtime as never });
    this.url = started.url;
    this.#server = started;
  }

  async stopServer(): Promise<void> {
    await this.#server?.close();
    this.#server = undefined;
  }

  /** Loads the page and waits for the app to be ready. */
  async open(): Promise<void> {
    await this.page.goto(this.url);
    await this.page.waitForSelector('body[data-ready="true"]', { timeout: 30_000, polling: 100 });
  }

  async close(): Promise<void> {
    await this.#context?.close();
    await this.#server?.close();
    await this.#runtime?.close();
    rmSync(this.cwd, { recursive: true, force: true });
    rmSync(this.#profile, { recursive: true, force: true });
  }

  /** Runs a function in the page with the test handle. */
  eval<T, A = undefined>(fn: (arg: A) => T, arg?: A): Promise<T> {
    return this.page.evaluate(fn as never, arg as never) as Promise<T>;
  }

  workflow(): Promise<WorkflowView> {
    return this.page.evaluate(() => window.kinegraph.workflow());
  }

  /** Loads an example from the toolbar. */
  async example(id: string): Promise<void> {
    await this.page.selectOption('#examples', id);
    await this.page.waitForFunction(
      () =>
        document.querySelector('#examples') !== null &&
        (document.querySelector('#examples') as HTMLSelectElement).value === '',
    );
  }

  /** Waits until the canvas has drawn twice (link midpoints and slot positions are set while drawing). */
  async frames(): Promise<void> {
    await this.page.evaluate(
      () => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
    );
  }

  /** Where a graph position is on the page. */
  async pagePoint(x: number, y: number): Promise<{ x: number; y: number }> {
    const [cx, cy] = await this.page.evaluate(
      ([gx, gy]) => window.kinegraph.app.canvas.ds.convertOffsetToCanvas([gx!, gy!]),
      [x, y],
    );
    const box = (await this.page.locator('#graph').boundingBox())!;
    return { x: box.x + cx!, y: box.y + cy! };
  }

  /** Where a node's title bar is on the page (a point left of its middle). */
  async titleOf(id: string): Promise<{ x: number; y: number }> {
    const pos = await this.page.evaluate((nodeId) => window.kinegraph.app.node(nodeId)!.pos, id);
    return this.pagePoint(pos[0]! + 40, pos[1]! - 15);
  }

  /**
   * Clicks a node's title bar, as a user selects it, and waits until it is selected. On a loaded machine the
   * canvas may not take a click (litegraph reads a press held past its click time as a drag): like a person,
   * it clicks again. When it never is, a screenshot `select-<id>-failed.png` shows why.
   */
  async selectNode(id: string, modifiers: ('Shift' | 'Control')[] = []): Promise<void> {
    const at = await this.titleOf(id);
    // A second Shift/Ctrl+click would take the node out of the selection again: those get one, longer try.
    const attempts = modifiers.length ? 1 : 3;
    for (let attempt = 0; attempt < attempts; attempt++) {
      for (const m of modifiers) await this.page.keyboard.down(m);
      await this.page.mouse.click(at.x, at.y);
      for (const m of modifiers) await this.page.keyboard.up(m);
      const ok = await this.page
        .waitForFunction(
          (nodeId) => {
            const { app } = window.kinegraph;
            const node = app.node(nodeId);
            return node !== undefined && Boolean(app.canvas.selected_nodes[String(node.id)]);
          },
          id,
          { timeout: attempt < attempts - 1 ? 3_000 : 10_000, polling: 50 },
        )
        .then(
          () => true,
          () => false,
        );
      if (ok) return;
    }
    await this.page.screenshot({ path: join(shots, `select-${id}-failed.png`) });
    throw new Error(`Clicking the title of node "${id}" did not select it.`);
  }

  /** Opens subgraph instance `id` with a double-click on it (again if a loaded machine missed the first). */
  async openSubgraph(id: string): Promise<void> {
    const at = await this.titleOf(id);
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.page.mouse.dblclick(at.x + 40, at.y + 45);
      const ok = await this.page
        .waitForFunction(
          (n) => (window.kinegraph.app as unknown as { path: { instanceId: string }[] }).path.at(-1)?.instanceId === n,
          id,
          { timeout: attempt < 2 ? 3_000 : 10_000, polling: 50 },
        )
        .then(
          () => true,
          () => false,
        );
      if (ok) return;
    }
    throw new Error(`Double-clicking subgraph node "${id}" did not open it.`);
  }

  /** Sets a param in the inspector (select the node first). */
  async setParam(name: string, value: string): Promise<void> {
    const field = this.page.locator(`[data-param="${name}"]`);
    await field.fill(value);
    await field.blur();
  }

  /** Drags with the mouse from one page point to another, in steps (as a hand does). */
  async drag(from: { x: number; y: number }, to: { x: number; y: number }): Promise<void> {
    await this.page.mouse.move(from.x, from.y);
    await this.page.mouse.down();
    await this.page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 6 });
    await this.page.mouse.move(to.x, to.y, { steps: 6 });
    await this.page.mouse.up();
  }

  /** Right-clicks at a page point and returns the labels of the menu that opens. */
  async menuAt(at: { x: number; y: number }): Promise<string[]> {
    await this.page.mouse.click(at.x, at.y, { button: 'right' });
    await this.page.waitForSelector('.kg-menu', { timeout: 5000 });
    return this.page.$$eval('.kg-menu .kg-menu-item .label', (els) => els.map((e) => e.textContent ?? ''));
  }

  /** The id of the run the nodes show ('' for none). */
  shownRunId(): Promise<string> {
    return this.page.evaluate(() => window.kinegraph.app.shownRunId ?? '');
  }

  /** Waits until a run has a status among `statuses`. */
  async waitForRun(id: string, statuses: string[], timeout = 90_000): Promise<void> {
    await this.page.waitForFunction(
      ([runId, wanted]) => (wanted as string[]).includes(window.kinegraph.app.runs.get(runId as string)?.status ?? ''),
      [id, statuses] as const,
      { timeout, polling: 100 },
    );
  }

  /** Queues (Queue button) and resolves to the new run's id once the server has it. */
  async queue(modifiers: ('Shift' | 'Control')[] = []): Promise<string> {
    const before = await this.shownRunId();
    await this.page.click('#queue', { modifiers });
    await this.page.waitForFunction(
      (previous) => {
        const id = window.kinegraph.app.shownRunId;
        return id !== undefined && id !== previous;
      },
      before,
      { timeout: 30_000, polling: 50 },
    );
    return this.shownRunId();
  }

  /** Queues and waits for that run to end. */
  async runAndWait(): Promise<string> {
    const id = await this.queue();
    await this.waitForRun(id, ['done', 'error', 'cancelled']);
    return id;
  }

  /**
   * A screenshot for people to look at; with KINEGRAPH_DOC_SHOTS=1 also the README's copy, reduced to a
   * 256-colour PNG by ffmpeg (a fifth of the size, the same to the eye for a UI).
   */
  async shot(name: string, doc?: string): Promise<void> {
    const file = join(shots, `${name}.png`);
    await this.page.screenshot({ path: file });
    if (doc && docShots) {
      mkdirSync(docShots, { recursive: true });
      const target = join(docShots, `${doc}.png`);
      const reduced = spawnSync(
        'ffmpeg',
        [
          '-y',
          '-v',
          'error',
          '-i',
          file,
          '-vf',
          'split[a][b];[a]palettegen=max_colors=256[p];[b][p]paletteuse=dither=none',
          target,
        ],
        { stdio: 'ignore' },
      );
      if (reduced.status !== 0) cpSync(file, target);
    }
  }
}
