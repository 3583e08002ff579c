"""Onboarding plans and the go-live gate (`onboarding`), and the test stages run
against the live services (`teststage`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bcl_console.cli.common import Common, actor, with_runtime
from bcl_console.cli.output import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, emit, table
from bcl_console.services.platform.runtime import Runtime

if TYPE_CHECKING:
    from bcl_console.cli.common import Subparsers


def register(sub: Subparsers, common: Common) -> None:
    o = sub.add_parser("onboarding", help="onboarding plans (導入スケジュール) and the go-live gate")
    osub = o.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = osub.add_parser("plan", parents=common.json, help="make a municipality's plan from the schedule template")
    x.add_argument("code")
    x.add_argument("--service-start", required=True, metavar="YYYY-MM-DD")
    x.add_argument("--without-seal", action="store_true",
                   help="the municipality will not offer seal certificates (no seal ordinance step)")
    x.add_argument("--replace", action="store_true", help="re-plan an existing plan (steps done stay done)")
    x = osub.add_parser("show", parents=common.json, help="a plan: steps with due dates and status, stages")
    x.add_argument("code")
    x = osub.add_parser("done", parents=common.json, help="tick a checklist step")
    x.add_argument("code")
    x.add_argument("step")
    x.add_argument("--note", help="what was done, e.g. the ordinance number")
    x = osub.add_parser("list", parents=common.json, help="every municipality's progress: on track, late, live")
    x = osub.add_parser("override", parents=common.json,
                        help="allow go-live although stages are missing (audited), or --clear it")
    x.add_argument("code")
    x.add_argument("--reason")
    x.add_argument("--clear", action="store_true")
    o.set_defaults(func=cmd_onboarding)

    t = sub.add_parser("teststage", help="the test stages (試験), run against the live services")
    tsub = t.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = tsub.add_parser("run", parents=common.json,
                        help="run a stage: linkage, stage1, stage2, stage3, operation, real-store")
    x.add_argument("code")
    x.add_argument("stage")
    x.add_argument("--operator", help="real-store: the kiosk operator whose store issues (default: the first)")
    x = tsub.add_parser("show", parents=common.json, help="each stage's state and every run")
    x.add_argument("code")
    x = tsub.add_parser("confirm", parents=common.json,
                        help="confirm the content of stage-3 documents: the stage passes")
    x.add_argument("code")
    x.add_argument("stage")
    x.add_argument("--note")
    t.set_defaults(func=cmd_teststage)


def cmd_onboarding(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.onboarding
        if args.action == "list":
            lines = await svc.progress()
            emit(args, {"municipalities": [line.as_dict() for line in lines]}, lambda: table(
                [(ln.code, ln.name, ln.state.value, ln.status,
                  ln.service_start.isoformat() if ln.service_start else "-",
                  f"{ln.done}/{ln.total}" if ln.total else "-", ln.late or "",
                  f"{ln.next_step} ({ln.next_due.isoformat()})" if ln.next_step and ln.next_due else "")
                 for ln in lines],
                ("code", "name", "state", "progress", "service start", "steps", "late", "next step"),
            ))
            return EXIT_OK
        if args.action == "plan":
            view = await svc.plan(args.code, args.service_start, offers_seal=not args.without_seal,
                                  replace=args.replace, actor=actor())
        elif args.action == "done":
            view = await svc.done(args.code, args.step, note=args.note, actor=actor())
        elif args.action == "override":
            view = await svc.override(args.code, None if args.clear else args.reason, actor=actor())
        else:
            view = await svc.show(args.code)
        doc = view.as_dict()
        emit(args, doc, lambda: _print_plan(doc))
        return EXIT_OK

    if args.action == "override" and not args.clear and not args.reason:
        raise CliError("onboarding override needs --reason TEXT (or --clear)", EXIT_USAGE, "usage")
    return with_runtime(args, body)


def _print_plan(doc: dict[str, Any]) -> None:
    m = doc["municipality"]
    print(f"{m['name']} {m['code']} ({m['hosting']}): {doc['status']}, state {m['state']}; "
          f"service start {doc['service_start']} ({doc['service_start_ja']})")
    if doc["warning"]:
        print(f"warning: {doc['warning']}; cannot fit: {', '.join(doc['cannot_fit']) or 'none'}")
    if doc["override"]:
        print(f"go-live override by {doc['override']['by']}: {doc['override']['reason']}")
    table([(s["seq"], s["key"], s["title_ja"], s["due_on"], s["due_on_ja"], s["status"],
            s["done_on"] or "", "" if s["fits"] else "cannot fit") for s in doc["steps"]],
          ("#", "step", "title", "due", "due (和暦)", "status", "done", ""))
    print()
    table([(st["stage"], st["label_ja"], "yes" if st["required"] else "no", st["outcome"], st["reason"][:60])
           for st in doc["stages"]], ("stage", "name", "required", "outcome", "reason"))


def cmd_teststage(args: argparse.Namespace) -> int:
    async def body(runtime: Runtime) -> int:
        svc = runtime.teststages
        if args.action == "show":
            plan = (await runtime.onboarding.show(args.code)).as_dict()
            runs = await svc.runs(args.code)
            doc = {"municipality": plan["municipality"], "stages": plan["stages"],
                   "runs": [r.as_dict() for r in runs]}

            def human() -> None:
                table([(st["stage"], st["label_ja"], "yes" if st["required"] else "no", st["outcome"],
                        st["reason"][:70]) for st in doc["stages"]],
                      ("stage", "name", "required", "outcome", "reason"))
                if runs:
                    print()
                    table([(r.id, r.stage.value, r.started_at[:19], r.outcome.value, r.run_by,
                            r.confirmed_by or "") for r in runs],
                          ("run", "stage", "started (UTC)", "outcome", "by", "confirmed by"))

            emit(args, doc, human)
            return EXIT_OK
        if args.action == "confirm":
            run = await svc.confirm(args.code, args.stage, actor=actor(), note=args.note)
        else:
            show = not args.json and sys.stderr.isatty()
            run = await svc.run(args.code, args.stage, actor=actor(), operator=args.operator,
                                log=(lambda line: print(line, file=sys.stderr)) if show else None)
        doc = run.as_dict()
        emit(args, doc, lambda: print(f"{run.stage.value} run {run.id}: {run.outcome.value} — {run.reason}"))
        return EXIT_OK if run.outcome.value in ("passed", "not-required", "awaiting-confirmation") else EXIT_FAILURE

    return with_runtime(args, body)
