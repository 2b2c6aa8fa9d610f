// Evaluates IAM requests against identity policies with @cloud-copilot/iam-simulate
// (package.json pins it; `make setup` installs it with `npm ci`). It validates each policy,
// the action against AWS's published list, and the resource ARN against the action's
// resource types, then decides as IAM does (explicit deny, allow, implicit deny).
//
// stdin:  {"principals": {KEY: {"arn": ..., "policies": [{"name": ..., "policy": {...}}]}},
//          "requests": [{"principal": KEY, "action": "svc:Action", "resource": "arn:..."}]}
// stdout: [{"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "error",
//           "errors": ..., "allowedBy": [{"policy", "sid", "actions", "resources"}]}]
import { runSimulation } from '@cloud-copilot/iam-simulate'

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value])

async function main() {
  let text = ''
  for await (const chunk of process.stdin) text += chunk
  const input = JSON.parse(text)
  const out = []
  for (const request of input.requests) {
    const principal = input.principals[request.principal]
    const answer = await runSimulation(
      {
        identityPolicies: principal.policies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: {
          action: request.action,
          principal: principal.arn,
          resource: { resource: request.resource, accountId: input.account },
          contextVariables: {},
        },
      },
      {},
    )
    if (answer.resultType === 'error') {
      out.push({ result: 'error', errors: answer.errors })
      continue
    }
    const analysis = answer.result.analysis
    const allowedBy = (analysis.identityAnalysis?.allowStatements ?? []).map((s) => ({
      policy: s.policyId,
      sid: s.explain?.identifier ?? null,
      actions: asList(s.explain.actions)
        .filter((a) => a.matches)
        .map((a) => a.action),
      resources: asList(s.explain.resources)
        .filter((r) => r.matches)
        .map((r) => r.resource),
    }))
    out.push({ result: analysis.result, allowedBy })
  }
  process.stdout.write(JSON.stringify(out))
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`)
  process.exit(1)
})
