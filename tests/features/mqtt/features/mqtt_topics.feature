Feature: MQTT topics are read and written through the library's phrases
  The aliases name a topic and topic filters of the run's own on the broker: orders
  (a topic), created (shop/1/created), all-created (shop/+/created) and shop (shop/#).

  Scenario: A message published on a topic is received once, with its user properties
    When "orders" is published with headers "source=web":
      """
      {"order_id": "ord-1", "amount": 9.5}
      """
    Then within 5 seconds the orders topic receives 1 message
    And the message's JSON body contains:
      """
      {"order_id": "ord-1", "amount": 9.5}
      """
    And the message attribute "source" is "web"

  Scenario: Topic filters receive what is sent to a topic they match
    When a message is sent to the created topic with:
      """
      {"order_id": "ord-2", "status": "created"}
      """
    Then within 5 seconds the all-created topic receives a message with:
      | field    | value     |
      | order_id | "ord-2"   |
      | status   | "created" |
    And the shop topic receives 1 message

  Scenario: A scenario that sends nothing receives nothing
    Then the shop topic receives no messages within 300 ms
