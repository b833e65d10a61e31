/** A 200-plus-token English support text (invoice, delivery, company facts) for agreement and speed measurements. */
export const LONG_TEXT =
  'The invoice for March lists three items: a laptop stand for 45 euros, two USB cables at 9 euros each, and a desk lamp that costs 30 euros. ' +
  'Payment is due within thirty days of the invoice date. Our support team answers questions about orders, returns and delivery times from Monday to Friday. ' +
  'If a parcel arrives damaged, customers should keep the packaging and send us a photo within a week, so that we can arrange a replacement or a refund. ' +
  'Many people ask whether they can change the delivery address after the order has shipped; this is possible only when the carrier has not yet left the warehouse. ' +
  'The company was founded in Berlin in 2011 by two engineers who wanted to sell durable office furniture at fair prices, and it now employs about two hundred people in four countries. ' +
  'Every product page shows the materials, the dimensions and the expected delivery date, and customers can compare up to four products side by side before they decide.';
