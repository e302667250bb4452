Feature: behave async steps and the event loop they share

  Scenario: a library step waits while a task in behave's loop does the work
    Given an order service task that pays the order after 100 ms
    Then within 5 seconds the loop order status is "paid"

  Scenario: an async step awaits the same wait
    Given an order service task that pays the order after 100 ms
    Then awaiting, within 5 seconds the order status is "paid"

  Scenario: must fail: the task never pays
    Given an order service task that never pays
    Then within 1 second the loop order status is "paid"
