Feature: Paying for an order takes its quantity from stock, and nothing else
  The warehouse trusts the stock figures: an order for 3 takes exactly 3 from the product
  ordered, and leaves every other product and column as it was.

  Background:
    Given product "prod-789" has 100 in stock
    And product "prod-123" has 50 in stock

  Scenario: Ordering 3 of a product takes its stock from 100 to 97
    Given a snapshot of the inventory of product "prod-789"
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the inventory of product "prod-789" changes
    And the inventory change is:
      | column   | before | after |
      | quantity | 100    | 97    |

  Scenario: An order changes one row of the inventory table and no other
    Given a snapshot of the "inventory" table
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the "inventory" table changes to:
      | product_id | column   | before | after |
      | prod-789   | quantity | 100    | 97    |

  Scenario: An order for one product leaves another product's stock alone
    Given a snapshot of the inventory of product "prod-123"
    When a customer orders 3 of product "prod-789"
    Then within 10 seconds the order status is "shipped"
    And the inventory of product "prod-123" does not change within 100 ms
