Feature: MQTT expectations fail when the topic disagrees
  Every scenario here must fail, its report saying what arrived.

  Scenario: One message fails a count of two
    When a message is sent to the orders topic with:
      """
      {"order_id": "ord-3"}
      """
    Then within 1 second the orders topic receives 2 messages

  Scenario: A message with other content fails the content table
    When a message is sent to the orders topic with:
      """
      {"order_id": "ord-4"}
      """
    Then within 1 second the orders topic receives a message with:
      | field    | value   |
      | order_id | "ord-5" |
