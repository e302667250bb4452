Feature: Runs that share the brokers see only their own messages
  Two behave processes run this feature at the same time against one SQS server and one
  Kafka broker, on the same queue and topic. Each scenario must receive exactly its own
  message: the other run's messages are skipped and left for their owner.

  Scenario Outline: Message <n> is received by its own scenario only
    When a message is sent to the billing queue with:
      """
      {"isolation_check": <n>, "scenario": "{scenario_id}"}
      """
    And "order.created" is published with:
      """
      {"isolation_check": <n>, "scenario": "{scenario_id}"}
      """
    Then within 10 seconds the billing queue receives 1 message
    And the message's JSON body contains:
      """
      {"scenario": "{scenario_id}"}
      """
    And within 10 seconds the "order.created" topic receives 1 message
    And the message's JSON body contains:
      """
      {"scenario": "{scenario_id}"}
      """

    Examples:
      | n  |
      | 1  |
      | 2  |
      | 3  |
      | 4  |
      | 5  |
      | 6  |
      | 7  |
      | 8  |
