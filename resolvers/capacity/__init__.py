"""The mill's capacity per stage and week, and the order enquiry."""
