"""`signoff start --on-approve KIND:TARGET`: a gate that a request files for itself.

- `github-dispatch:OWNER/REPO` — on approval, a `repository_dispatch` (`signoff-approved`)
- `gitlab-play:PROJECT:JOB` — on approval, play that manual job
"""

from __future__ import annotations

from signoff.errors import ValidationError
from signoff.gates import dispatch, gitlab
from signoff.gates.port import GateRef

KINDS = (dispatch.KIND, gitlab.KIND)


def parse_on_approve(text: str) -> GateRef:
    kind, sep, rest = text.partition(":")
    if kind == dispatch.KIND and sep:
        problem = dispatch.repository_problem(rest)
        if problem:
            raise ValidationError(f"--on-approve {dispatch.KIND}: {problem}")
        return GateRef(kind=kind, target={"repository": rest})
    if kind == gitlab.KIND and sep:
        project, sep, job = rest.rpartition(":")
        problems = gitlab.target_problems(project, job) if sep else ["name PROJECT:JOB"]
        if problems:
            raise ValidationError(f"--on-approve {gitlab.KIND}: {'; '.join(problems)}")
        return GateRef(kind=kind, target={"project": project, "job": job})
    raise ValidationError(
        f"--on-approve {text[:80]!r} must be {dispatch.KIND}:OWNER/REPO or "
        f"{gitlab.KIND}:PROJECT:JOB"
    )
