Feature: A paid order tells billing, shipping and inventory through their queues
  Every paid order sends exactly one message to each downstream queue. The steps read the
  queues as messages arrive, never after a fixed sleep, and count only the messages that
  carry this scenario's correlation id: nothing left over from another scenario, or sent
  by a test run sharing the queues, can make them pass.

  Scenario: Each downstream queue receives exactly one message for a paid order
    Given product "prod-301" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    When a customer orders 3 of product "prod-301"
    Then within 10 seconds the billing, shipping and inventory queues each receive 1 message

  Scenario: The billing message names the order and its amount
    Given product "prod-302" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    When a customer orders 3 of product "prod-302" for 99.99
    Then within 10 seconds the billing queue receives a message with:
      | field    | value        |
      | order_id | "{order_id}" |
      | amount   | 99.99        |
      | currency | "EUR"        |
    And the message attribute "event_type" is "billing.requested"

  Scenario: The inventory message says how much stock the order took
    Given product "prod-303" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    When a customer orders 3 of product "prod-303"
    Then within 10 seconds the inventory queue receives a message containing:
      """
      {"order_id": "{order_id}", "product_id": "prod-303", "quantity_change": -3}
      """

  Scenario: An order that cannot be paid bills nobody
    Given product "prod-304" has 100 in stock
    When a customer orders 500 of product "prod-304"
    Then within 10 seconds the order status is "failed"
    And the billing queue receives no messages within 500 ms
