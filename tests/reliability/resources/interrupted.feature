Feature: A run interrupted during a wait

  Scenario: Ctrl-C while waiting for a message and a call that never come
    Given a webhook receiver "never-called"
    When a message is sent to the spare queue with:
      """
      {"purpose": "starts the embedded SQS server before the wait"}
      """
    And the run starts waiting
    Then within 60 seconds the jobs and events queues each receive 1 message
    And within 60 seconds the "never-called" webhook receives 1 call
