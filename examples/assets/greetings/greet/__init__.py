"""greet: adds `<field>: "<greeting> <n>"` to every record."""

from jobs.ops.api import MapProcessor


class Processor(MapProcessor):
    def map(self, record):
        return {**record, self.op_config["field"]: f"{self.op_config['greeting']} {record.get('n')}"}
