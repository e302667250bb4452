Feature: NATS subjects and JetStream streams

  Scenario: A message the service publishes is counted and its content checked
    When the service publishes to the "orders" stream:
      """
      {"order_id": "ord-1", "amount": 99.99}
      """
    Then within 5 seconds the "orders" stream receives 1 message
    And the message's JSON body contains:
      """
      {"order_id": "ord-1", "amount": 99.99}
      """
    And the message attribute "source" is "service"

  Scenario: A message sent by a step arrives with its content
    When a message is sent to the "orders" stream with:
      """
      {"order_id": "ord-2", "amount": 5}
      """
    Then the "orders" stream receives a message with:
      | field    | value   |
      | order_id | "ord-2" |
      | amount   | 5       |

  Scenario: Another run's message is not this scenario's
    When another run publishes to the "orders" stream:
      """
      {"order_id": "ord-3"}
      """
    Then the "orders" stream receives no messages within 300 ms

  Scenario: A subject message arrives with its content
    When a message is sent to the "events" subject with:
      """
      {"event": "order.paid", "order_id": "ord-4"}
      """
    Then within 5 seconds the "events" subject receives 1 message
    And the message's JSON body contains:
      """
      {"event": "order.paid"}
      """

  Scenario: Must fail: one message is not two
    When the service publishes to the "orders" stream:
      """
      {"order_id": "ord-5"}
      """
    Then within 500 ms the "orders" stream receives 2 messages

  Scenario: Must fail: another run's message does not count
    When another run publishes to the "orders" stream:
      """
      {"order_id": "ord-6"}
      """
    Then within 500 ms the "orders" stream receives 1 message

  Scenario: Must fail: the content differs
    When the service publishes to the "orders" stream:
      """
      {"order_id": "ord-7", "amount": 10}
      """
    Then within 500 ms the "orders" stream receives a message with:
      | field  | value |
      | amount | 11    |
