Feature: An order's status follows it from placement to shipping
  Customers see their order as soon as it is placed, and every order that is paid ships.
  Nobody waits a fixed time: each step returns the moment the status is right, and
  fails with the statuses it saw when it is not right in time.

  Scenario: A placed order is pending within seconds
    Given product "prod-101" has 100 in stock
    When a customer orders 3 of product "prod-101"
    Then within 10 seconds the order status is "pending"

  Scenario: A placed order ships and never fails on the way
    Given product "prod-102" has 100 in stock
    When a customer orders 1 of product "prod-102"
    Then within 10 seconds the order status becomes "shipped" but never "failed"
    And the order status stays "shipped" for 200 ms

  Scenario: An order ships only after it has been paid, which takes a moment
    Given product "prod-103" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    When a customer orders 2 of product "prod-103"
    Then the order status does not become "shipped" within 100 ms
    And within 10 seconds the order status is "shipped" and stays so for 100 ms

  Scenario: Shipping is never instant
    Given product "prod-104" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    When a customer orders 1 of product "prod-104"
    Then the order status becomes "shipped" no sooner than 100 ms and within 10 seconds
