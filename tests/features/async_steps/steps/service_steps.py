"""An order service that lives in behave's event loop: async steps start it as a task,
and the library's own (blocking) steps and the awaitable API wait for what it does."""

import asyncio

from behave import given, then

from asyncbdd import aio, register_probe
from asyncbdd.steps import *  # noqa: F403

ORDER = {"status": "pending"}
register_probe("the loop order status", lambda: ORDER["status"])


async def pay_later(seconds: float) -> None:
    loop = asyncio.get_running_loop()
    payment_done = loop.create_future()
    loop.call_later(seconds, payment_done.set_result, None)  # the payment takes this long
    await payment_done
    ORDER["status"] = "paid"


@given("an order service task that pays the order after {ms:d} ms")
async def step_start_service(context, ms):
    ORDER["status"] = "pending"
    context.service = asyncio.get_running_loop().create_task(pay_later(ms / 1000))


@given("an order service task that never pays")
async def step_service_never_pays(context):
    ORDER["status"] = "pending"


@then('awaiting, within {seconds:d} seconds the order status is "{status}"')
async def step_await_status(context, seconds, status):
    await aio.wait_until(lambda: ORDER["status"], lambda value: value == status, timeout=seconds)
