/**
 * The instructions APO gives its optimizer model, as mustache templates the user may replace
 * (`new APO({ prompts: { critique: [...], edit: [...] } })`). Several variants of each make the
 * children of one parent differ; which variant a call uses follows from the run's seed.
 *
 * Critique variables: `target` (the template's resource name), `template` (its text), `targets`
 * (every optimizable template, for blame), `experiments` (what the agent did on a minibatch, read
 * from its traces), `score` (the minibatch's mean reward). Edit variables: `target`, `template`,
 * `critique`, `placeholders` (those the edit must keep, e.g. `{date}, {time}`), `engine`.
 */

export interface OptimizerPrompts {
  critique: readonly string[];
  edit: readonly string[];
}

export const DEFAULT_PROMPTS: OptimizerPrompts = Object.freeze({
  critique: Object.freeze([
    `You are improving the prompt template "{{target}}" of an AI agent. The agent ran on a few tasks with it; each run shows the task, what the agent did (messages, tool calls and results), the reward it earned (higher is better) and any error.

Current template:
"""
{{template}}
"""

Mean reward on these runs: {{score}}

Runs:
{{experiments}}

Find the rules, facts or checks the template fails to state that would have turned the low-reward runs into high-reward ones. Write 2 to 5 bullet points; each names a concrete, testable change to the template. Say nothing about runs that went well.
The agent's templates are: {{targets}}. End with one line "TARGET: <name>" naming the template your changes belong in.`,
    `You review prompts for an AI agent. Below are runs of the agent with its template "{{target}}" (mean reward {{score}}; higher is better).

Template under review:
"""
{{template}}
"""

{{experiments}}

Compare the runs with low reward to those with high reward. What did the agent misunderstand, overlook or get wrong that an instruction could have prevented? Answer as 3 to 5 lines starting with "Critique:", most important first, each specific enough to act on.
Optimizable templates: {{targets}}. Finish with "TARGET: <name>" for the template that should change.`,
    `Act as a careful prompt engineer. An agent's template "{{target}}" produced the runs below; rewards are in [0, 1] or similar, higher is better (mean {{score}}).

"""
{{template}}
"""

{{experiments}}

Diagnose the failures: for each distinct mistake, state (1) what went wrong, (2) which missing or unclear instruction allowed it, (3) the exact instruction to add or change. Keep it under 250 words. Do not rewrite the whole template.
Templates you may blame: {{targets}}. Close with "TARGET: <name>".`,
  ]),
  edit: Object.freeze([
    `Revise the prompt template "{{target}}" of an AI agent so that it fixes the problems in this critique.

Template:
"""
{{template}}
"""

Critique:
{{critique}}

Rules for the revision:
- Keep every placeholder exactly as written: {{placeholders}}. Add no new placeholder ({{engine}}).
- Keep what already works; add or change only what the critique calls for.
- Return the complete revised template between <template> and </template>, and nothing else.`,
    `Make the smallest change to the prompt template "{{target}}" that fixes the most important point of this critique, keeping its tone, structure and length.

Template:
"""
{{template}}
"""

Critique:
{{critique}}

Keep every placeholder exactly as written ({{placeholders}}) and add none ({{engine}}). Reply with the full template between <template> and </template> only.`,
  ]),
});
