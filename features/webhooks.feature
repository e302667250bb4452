Feature: A paid order calls the payment-complete webhook
  Shops register a webhook and are called when an order's payment completes. The capture
  server plays the shop: each scenario has its own receiver, the step returns the moment
  the call arrives, and the call's body, headers and signature are checked as sent.

  Background:
    Given a webhook receiver "payment-complete"

  Scenario: The webhook receives the order, its amount and its status
    Given product "prod-501" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    And the order service calls the "payment-complete" webhook on "payment.completed"
    When a customer places order "ord-1" for 3 of product "prod-501" at 99.99
    Then within 15 seconds the "payment-complete" webhook receives 1 call
    And the call's JSON body contains:
      """
      {"order_id": "ord-1", "amount": 99.99, "status": "completed"}
      """
    And the call's header "X-Correlation-Id" is "{correlation_id}"
    And the call is signed

  Scenario: A webhook that fails once is called again
    Given product "prod-502" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    And a webhook receiver "flaky-shop" that fails the first call with 500
    And the order service calls the "flaky-shop" webhook on "payment.completed"
    When a customer orders 1 of product "prod-502" for 10.00
    Then within 15 seconds the "flaky-shop" webhook receives 2 calls
    And the 2nd call's JSON body contains:
      """
      {"order_id": "{order_id}", "amount": 10.0, "status": "completed"}
      """

  Scenario: An order that cannot be paid calls no webhook
    Given product "prod-503" has 100 in stock
    And the order service calls the "payment-complete" webhook on "payment.completed"
    When a customer orders 500 of product "prod-503"
    Then within 10 seconds the order status is "failed"
    And no call reaches the "payment-complete" webhook within 500 ms
