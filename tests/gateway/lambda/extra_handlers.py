"""Test-only Lambda functions (run by awslambdaric like the seed's): one that fails, one that is
slower than its target's timeout, and one that reports what it received."""

import json
import time


def fail(event, context):
    # An unhandled exception: the Runtime API gets an error, the Invoke API answers with
    # X-Amz-Function-Error: Unhandled.
    raise KeyError(f"no order {event.get('orderId')!r}")


def slow(event, context):
    time.sleep(float(event.get("seconds", 3)))
    return {"slept": event.get("seconds", 3)}


def echo(event, context):
    # What the function saw, as the function sees it (awslambdaric's context object).
    cc = context.client_context
    return {
        "event": event,
        "custom": cc.custom if cc else None,
        "awsRequestId": context.aws_request_id,
        "functionArn": context.invoked_function_arn,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
