Feature: RabbitMQ exchanges and queues

  Scenario: A message the service publishes is counted and its content checked
    When the service publishes to the "orders" exchange with routing key "order.created":
      """
      {"order_id": "ord-1", "amount": 99.99}
      """
    Then within 5 seconds the "orders" queue receives 1 message
    And the message's JSON body contains:
      """
      {"order_id": "ord-1", "amount": 99.99}
      """
    And the message attribute "source" is "service"
    And the message key is "order.created"

  Scenario: A message sent by a step arrives with its content
    When "orders" is published with key "order.paid":
      """
      {"order_id": "ord-2", "amount": 5}
      """
    Then the "orders" queue receives a message with:
      | field    | value   |
      | order_id | "ord-2" |
      | amount   | 5       |

  Scenario: Another run's message is not this scenario's
    When another run publishes to the "orders" exchange with routing key "order.created":
      """
      {"order_id": "ord-3"}
      """
    Then the "orders" queue receives no messages within 300 ms

  Scenario: A message sent to a named queue is read from it
    When a message is sent to the "billing" queue with:
      """
      {"order_id": "ord-4", "amount": 12.5}
      """
    Then within 5 seconds the "billing" queue receives 1 message
    And the message's JSON body contains:
      """
      {"amount": 12.5}
      """

  Scenario: Must fail: one message is not two
    When the service publishes to the "orders" exchange with routing key "order.created":
      """
      {"order_id": "ord-5"}
      """
    Then within 500 ms the "orders" queue receives 2 messages

  Scenario: Must fail: another run's message does not count
    When another run publishes to the "orders" exchange with routing key "order.created":
      """
      {"order_id": "ord-6"}
      """
    Then within 500 ms the "orders" queue receives 1 message

  Scenario: Must fail: the content differs
    When the service publishes to the "orders" exchange with routing key "order.created":
      """
      {"order_id": "ord-7", "amount": 10}
      """
    Then within 500 ms the "orders" queue receives a message with:
      | field  | value |
      | amount | 11    |
