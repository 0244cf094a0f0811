// `npm run bench -- attacks`: the attacks of the hardening issue (#18) against `kinegraph serve` under a
// 4 GB memory limit, one after another on one server, each followed by a legitimate run. Prints the peak
// resident memory of the server during each attack, and what it holds afterwards.
import { runAttacks } from '../tests/attacks/attacks.mjs';

const MB = 1024 * 1024;

export async function bench() {
  const { rows, mechanism, limitBytes, baseline, oomKills } = await runAttacks();
  console.log(
    `server under ${mechanism}${limitBytes ? `, ${limitBytes / MB} MB` : ''}; baseline after a first run ${(baseline / MB).toFixed(0)} MB; OOM kills: ${oomKills}\n`,
  );
  console.log(`| attack | answers | peak RSS | after | legitimate run |\n| --- | --- | ---: | ---: | --- |`);
  for (const r of rows)
    console.log(
      `| ${r.attack} | ${r.answers.join(', ')}${r.ok ? '' : ' (UNEXPECTED)'} | ${(r.peakBytes / MB).toFixed(0)} MB | ${(r.afterBytes / MB).toFixed(0)} MB | ${r.legitimate} |`,
    );
  return {
    mechanism,
    limitBytes,
    baselineBytes: baseline,
    oomKills,
    rows: rows.map(({ attack, answers, ok, peakBytes, afterBytes, legitimate, alive, ms }) => ({
      attack,
      answers,
      ok,
      peakBytes,
      afterBytes,
      legitimate,
      alive,
      ms: Math.round(ms),
    })),
  };
}
