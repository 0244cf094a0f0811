// `npm run demo`: text-to-video with the shipped model pack and good defaults, then prints where the video
// is. Uses MP4 when the system ffmpeg is there, and GIF (pure JS) when it is not, so it works anywhere.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prompt = process.argv.slice(2).join(' ') || 'a blue square moving right on a gray background';
const hasFfmpeg = spawnSync(process.env.KINEGRAPH_FFMPEG ?? 'ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
const format = hasFfmpeg ? 'mp4' : 'gif';
if (!hasFfmpeg) console.error('ffmpeg not found: writing a GIF instead of an MP4 (apt-get install ffmpeg for MP4).');
console.error(`prompt: "${prompt}"`);

const result = spawnSync(
  process.execPath,
  [
    join(root, 'packages/core/bin/kinegraph.js'),
    'run',
    join(root, 'workflows/text-to-video.json'),
    '--set',
    `prompt.text=${prompt}`,
    '--set',
    `save.format=${format}`,
    '--out',
    join(root, 'outputs'),
  ],
  { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], encoding: 'utf8' },
);
const files = (result.stdout ?? '').trim().split('\n').filter(Boolean);
if (result.status === 0 && files.length) console.log(`\nYour video: ${files.join('\n')}`);
process.exit(result.status ?? 1);
