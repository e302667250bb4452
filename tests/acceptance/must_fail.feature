Feature: Every asyncbdd step fails, and says why, when the system does not behave
  Each scenario here runs against the healthy demo service and expects something it
  does not do. tests/test_features.py checks that each one fails with its diagnostic.
  Scenarios written wrong (a malformed duration, an unknown name) are in
  tests/reliability/bad_input.feature.

  Background:
    Given product "prod-789" has 100 in stock
    And product "prod-123" has 50 in stock

  Scenario: A status that never comes times out with the statuses seen
    When a customer orders 1 of product "prod-789"
    Then within 1 second the order status is "lost"

  Scenario: A status that moves on does not stay
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the order status is "pending"
    And the order status stays "pending" for 2 seconds

  Scenario: A forbidden status stops the wait at once
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the order status becomes "shipped" but never "paid"

  Scenario: A status that does not hold long enough fails the hold
    When a customer orders 1 of product "prod-789"
    Then within 3 seconds the order status is "pending" and stays so for 2 seconds

  Scenario: A status reached too early fails the minimum time
    When a customer orders 1 of product "prod-789"
    Then the order status becomes "pending" no sooner than 2 seconds and within 10 seconds

  Scenario: A status that is reached fails the negative form
    When a customer orders 1 of product "prod-789"
    Then the order status does not become "shipped" within 5 seconds

  Scenario: Eventually waits only as long as the default timeout
    When a customer orders 1 of product "prod-789"
    Then eventually the order status is "lost"

  Scenario: A number written in quotes is not the number
    When a customer orders 3 of product "prod-789"
    Then within 1 second the stock of product "prod-789" is "97"

  Scenario: A different change than expected is shown beside the expectation
    Given a snapshot of the inventory of product "prod-789"
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the inventory of product "prod-789" changes
    And the inventory change is:
      | column   | before | after |
      | quantity | 100    | 90    |

  Scenario: A change to a row that should not change is reported
    Given a snapshot of the "inventory" table
    When a customer orders 3 of product "prod-789"
    Then within 1 second the "inventory" table changes to:
      | product_id | column   | before | after |
      | prod-123   | quantity | 50     | 47    |

  Scenario: Rows that never change time out
    Given a snapshot of the inventory of product "prod-123"
    When a customer orders 3 of product "prod-789"
    Then within 1 second the inventory of product "prod-123" changes

  Scenario: Rows that change fail the negative form
    Given a snapshot of the inventory of product "prod-789"
    When a customer orders 3 of product "prod-789"
    Then the inventory of product "prod-789" does not change within 5 seconds

  Scenario: A snapshot never taken is named
    Then within 1 second the inventory of product "prod-789" changes

  Scenario: A queue that receives one message fails a count of two
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the order status is "shipped"
    And within 1 second the billing queue receives 2 messages

  Scenario: A second message within the grace window fails exactly one
    When a message is sent to the billing queue with:
      """
      {"order_id": "ord-twice"}
      """
    And a message is sent to the billing queue with:
      """
      {"order_id": "ord-twice"}
      """
    Then within 3 seconds the billing queue receives 1 message

  Scenario: A message that arrives fails the negative form
    When a customer orders 1 of product "prod-789"
    Then the shipping queue receives no messages within 5 seconds

  Scenario: A message with a different field is shown beside the expectation
    When a customer orders 3 of product "prod-789" for 99.99
    Then within 10 seconds the order status is "shipped"
    And within 1 second the billing queue receives a message with:
      | field  | value |
      | amount | 10.5  |

  Scenario: A message body that does not contain the document is explained
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the inventory queue receives 1 message
    And the message's JSON body contains:
      """
      {"quantity_change": -30}
      """

  Scenario: A wrong message attribute is named
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the billing queue receives 1 message
    And the message attribute "event_type" is "invoice.requested"

  Scenario: Nothing published on a topic times out naming the topic
    Then within 1 second the "order.created" topic receives 1 message

  Scenario: The message before any message is named
    Then the message's JSON body contains:
      """
      {"order_id": "ord-1"}
      """

  Scenario: Events across channels out of order fail at once, with their timeline
    Given a webhook receiver "payment-complete"
    And the order service calls the "payment-complete" webhook on "payment.completed"
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds these happen in order:
      | channel | event             |
      | http    | order accepted    |
      | queue   | shipping          |
      | trace   | payment.completed |
      | webhook | payment-complete  |

  Scenario: A tripwire ends a later wait at once, naming it
    Given the scenario fails at once if the order status becomes "paid"
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the billing queue receives 2 messages

  Scenario: A trace tripwire ends a later wait at once
    Given the scenario fails at once if "payment.completed" occurs
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the order status is "lost"

  Scenario: A queue tripwire ends a later wait at once
    Given the scenario fails at once if the shipping queue receives a message
    When a customer orders 1 of product "prod-789"
    Then within 10 seconds the trace for this order contains, in order:
      | event_type        |
      | order.created     |
      | payment.refunded  |

  Scenario: Seeded stock that is too little fails the order
    Given the "inventory" table has:
      | product_id | quantity | updated_at                  |
      | prod-771   | 2        | "2026-01-01 00:00:00.000000" |
    When a customer orders 3 of product "prod-771"
    Then within 2 seconds the order status is "shipped"
