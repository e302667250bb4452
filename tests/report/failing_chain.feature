Feature: A report shows why a chain of events failed
  Run beside the demo features by tests/report/test_report_run.py. The healthy service
  pays an order before it ships it, so the order written here fails, and the report has
  a failure with its timeline to show.

  Scenario: Shipping before payment is reported with the order's timeline
    Given product "prod-691" has 100 in stock
    When a customer orders 1 of product "prod-691" for 12.50
    Then within 10 seconds the trace for this order contains, in order:
      | event_type             |
      | order.created          |
      | shipping.label_created |
      | payment.completed      |
    And within 10 seconds the order status is "shipped"
