"""The CI gates' settings besides GitHub's App (signoff.config.GitHubSettings): where their
tokens live in Secrets Manager and which API each calls."""

from __future__ import annotations

from collections.abc import Mapping

from signoff.frozen import frozen
from signoff.gates.rest import checked_base_url


@frozen(kw_only=True)
class CiGateSettings:
    # Secrets Manager: {"token": ...} allowed to send repository_dispatch (contents: write).
    dispatch_secret_id: str = ""
    github_api_url: str = "https://api.github.com"
    # Secrets Manager: {"projects": {PROJECT: token}} or {"token": ...} (project access tokens).
    gitlab_secret_id: str = ""
    gitlab_api_url: str = "https://gitlab.com/api/v4"
    # CodePipeline's PutApprovalResult needs no secret: the notifier's role is granted it.
    codepipeline: bool = False
    # The topic a pipeline's approval action publishes to (the notifier is subscribed), and
    # where its approvals go: a policy, or ad-hoc approvers.
    codepipeline_topic_arn: str = ""
    codepipeline_policy: str = ""
    codepipeline_approvers: tuple[str, ...] = ()
    workflow_function_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CiGateSettings:
        return cls(
            dispatch_secret_id=env.get("SIGNOFF_GITHUB_DISPATCH_SECRET_ID", ""),
            github_api_url=checked_base_url(
                env.get("SIGNOFF_GITHUB_API_URL") or cls.github_api_url, "SIGNOFF_GITHUB_API_URL"
            ),
            gitlab_secret_id=env.get("SIGNOFF_GITLAB_SECRET_ID", ""),
            gitlab_api_url=checked_base_url(
                env.get("SIGNOFF_GITLAB_API_URL") or cls.gitlab_api_url, "SIGNOFF_GITLAB_API_URL"
            ),
            # On wherever pipelines are subscribed (or asked for: a redrive after unsubscribing).
            codepipeline=bool(env.get("SIGNOFF_CODEPIPELINE_TOPIC_ARN"))
            or env.get("SIGNOFF_CODEPIPELINE_GATE", "off").strip().lower() == "on",
            codepipeline_topic_arn=env.get("SIGNOFF_CODEPIPELINE_TOPIC_ARN", ""),
            codepipeline_policy=env.get("SIGNOFF_CODEPIPELINE_POLICY", ""),
            codepipeline_approvers=tuple(
                a.strip()
                for a in env.get("SIGNOFF_CODEPIPELINE_APPROVERS", "").split(",")
                if a.strip()
            ),
            workflow_function_arn=env.get("SIGNOFF_WORKFLOW_FUNCTION_ARN", ""),
        )
