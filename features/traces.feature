Feature: Every order leaves a complete, ordered trace
  Each service records what it did for an order, under the order's correlation id. The
  steps wait until the chain they name is complete, then check its order by position,
  not mere presence, and show a timeline of what happened when it is wrong. A chain may
  cross channels: the HTTP answer, the trace, the webhook call and the queue message.

  Scenario: A paid order goes through every step, in order
    Given product "prod-601" has 100 in stock
    And the scenario fails at once if "payment.failed" occurs
    When a customer orders 3 of product "prod-601" for 99.99
    Then within 15 seconds the trace for this order contains exactly, in order:
      | event_type             |
      | order.created          |
      | payment.initiated      |
      | payment.completed      |
      | inventory.reserved     |
      | shipping.label_created |
      | notification.sent      |

  Scenario: Payment completes once, before shipping, and the customer hears soon after
    Given product "prod-602" has 100 in stock
    And the scenario fails at once if "payment.failed" occurs
    When a customer orders 1 of product "prod-602"
    Then within 15 seconds "payment.completed" occurs before "shipping.label_created"
    And "payment.completed" occurs exactly once
    And "notification.sent" occurs within 2 seconds after "payment.completed"

  Scenario: An accepted order is paid, then the shop is called, then it ships
    Given product "prod-603" has 100 in stock
    And the scenario fails at once if "payment.failed" occurs
    And a webhook receiver "payment-complete"
    And the order service calls the "payment-complete" webhook on "payment.completed"
    When a customer orders 2 of product "prod-603" for 19.90
    Then within 15 seconds these happen in order:
      | channel | event             |
      | http    | order accepted    |
      | trace   | payment.completed |
      | webhook | payment-complete  |
      | queue   | shipping          |

  Scenario: A declined order never completes a payment
    Given product "prod-604" has 100 in stock
    When a customer orders 500 of product "prod-604"
    Then within 10 seconds the order status is "failed"
    And the trace for this order has no "payment.completed" event within 500 ms
