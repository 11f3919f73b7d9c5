"""Add-on configurations (Firebase, Azure, AWS, ...) arrive with the add-ons issue."""
