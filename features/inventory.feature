Feature: Paying for an order takes its quantity from stock, and nothing else
  The warehouse trusts the stock figures: an order for 3 takes exactly 3 from the product
  ordered, and leaves every other product and column as it was.

  Scenario: Ordering 3 of a product takes its stock from 100 to 97
    Given product "prod-789" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    And a snapshot of the inventory of product "prod-789"
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the inventory of product "prod-789" changes
    And the inventory change is:
      | column   | before | after |
      | quantity | 100    | 97    |

  # It reads the whole table, so no other scenario may change the table meanwhile:
  # behavex runs @SERIAL scenarios one at a time, before the parallel ones.
  @SERIAL
  Scenario: An order changes one row of the inventory table and no other
    Given product "prod-201" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    And product "prod-202" has 50 in stock
    And a snapshot of the "inventory" table
    When a customer orders 3 of product "prod-201"
    Then within 10 seconds the "inventory" table changes to:
      | product_id | column   | before | after |
      | prod-201   | quantity | 100    | 97    |

  Scenario: An order for one product leaves another product's stock alone
    Given product "prod-203" has 100 in stock
    And the scenario fails at once if the order status becomes "failed"
    And product "prod-123" has 50 in stock
    And a snapshot of the inventory of product "prod-123"
    When a customer orders 3 of product "prod-203"
    Then within 10 seconds the order status is "shipped"
    And the inventory of product "prod-123" does not change within 100 ms
