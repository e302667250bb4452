Feature: Orders published on Kafka are processed like orders placed over HTTP
  Other services announce orders on the "order.created" topic. The order service reads
  them as they come; the scenario's correlation id travels with the order in a header
  and comes back on every message the order causes.

  Scenario: An order published on Kafka ships and is billed
    Given product "prod-401" has 100 in stock
    And the scenario fails at once if the status of order "ord-k1" becomes "failed"
    When "order.created" is published with key "ord-k1":
      """
      {"order_id": "ord-k1", "product_id": "prod-401", "quantity": 3, "amount": 99.99}
      """
    Then within 10 seconds the status of order "ord-k1" is "shipped"
    And the billing queue receives a message with:
      | field    | value   |
      | order_id | "ord-k1" |
      | amount   | 99.99   |

  Scenario: An order published on Kafka takes its quantity from stock
    Given product "prod-402" has 100 in stock
    And the scenario fails at once if the status of order "ord-k2" becomes "failed"
    And a snapshot of the inventory of product "prod-402"
    When "order.created" is published with key "ord-k2":
      """
      {"order_id": "ord-k2", "product_id": "prod-402", "quantity": 3}
      """
    Then within 10 seconds the inventory of product "prod-402" changes
    And the inventory change is:
      | column   | before | after |
      | quantity | 100    | 97    |

  Scenario: The published order is on the topic once, under its key
    Given product "prod-403" has 100 in stock
    When "order.created" is published with key "ord-k3" and headers "source=web":
      """
      {"order_id": "ord-k3", "product_id": "prod-403", "quantity": 1}
      """
    Then within 5 seconds the "order.created" topic receives 1 message
    And the message key is "ord-k3"
    And the message header "source" is "web"
    And the message's JSON body contains:
      """
      {"order_id": "ord-k3", "quantity": 1}
      """
