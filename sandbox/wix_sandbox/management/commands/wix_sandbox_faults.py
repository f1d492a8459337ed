import json

from django.core.management.base import BaseCommand, CommandError

from wix_sandbox import faults


class Command(BaseCommand):
    help = (
        "Show, set or clear the Wix sandbox's fault rules. "
        "`set` takes JSON such as "
        '\'{"messages.send": {"error_500": 0.1, "latency_ms": 300}, '
        '"*": {"rate_limit_429": 0.05}}\''
        " (`set '{}'` turns every fault off); `clear` forgets the runtime rules, so that those of"
        " the WIX_SANDBOX_FAULTS environment variable apply again. See wix_sandbox/faults.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "set", "clear"])
        parser.add_argument("rules", nargs="?", help="the JSON rules, for `set`")

    def handle(self, *args, action, rules, **options):
        if action == "set":
            if rules is None:
                raise CommandError("`set` needs the rules as a JSON argument")
            try:
                faults.save_rules(json.loads(rules))
            except ValueError as error:
                raise CommandError(f"Not valid fault rules: {error}") from error
        elif action == "clear":
            faults.clear_rules()
        elif rules is not None:
            raise CommandError("`show` takes no argument")
        source, current = faults.current_rules()
        self.stdout.write(json.dumps({"source": source, "rules": current}, indent=2))
